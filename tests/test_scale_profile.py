"""`remediate up --profile scale`: two Prefect API processes behind the balancer, the
background services apart, Redis, two workers with warm parents, two gateways sharing one
PostgreSQL outbox. Real processes on the machine's PostgreSQL (a fresh database) and a
Redis server of its own; the restarts of both are in test_scale_restarts.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from remediate.devstack.stack import alive
from tests.support.scale import Redis, ScaleStack, machine_database, scale_profile, wait_for

pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleStack]:
    home = tmp_path_factory.mktemp("scale")
    redis = Redis(home)
    redis.start()
    try:
        with machine_database() as database_url, scale_profile(home, database_url, redis.url) as s:
            yield s
    finally:
        redis.stop()


def fingerprint_of(answer: object) -> str:
    import httpx

    assert isinstance(answer, httpx.Response)
    assert answer.status_code == 202, answer.text
    alerts = answer.json()["alerts"]
    assert len(alerts) == 1
    return str(alerts[0]["fingerprint"])


def test_every_component_runs_and_one_gateway_delivers(stack: ScaleStack) -> None:
    assert stack.state["profile"] == "scale"
    names = set(stack.state["pids"])
    assert names == {
        "prefect-api-1",
        "prefect-api-2",
        "prefect-services",
        "balancer",
        "demo-service",
        "warm-parent-1",
        "warm-parent-2",
        "worker-1",
        "worker-2",
        "gateway-1",
        "gateway-2",
    }
    assert all(alive(pid) for pid in stack.state["pids"].values())
    assert len(stack.state["api_urls"]) == 2
    assert stack.state["gateway_url"] == stack.state["gateway_urls"][0]
    with stack.api as api:
        workers = api.post("/work_pools/remediate/workers/filter", json={}).json()
    assert sum(1 for w in workers if w["status"] == "ONLINE") >= 2
    wait_for(lambda: len(stack.delivering()) == 1, 30, "one delivering gateway")


def test_an_alert_through_each_gateway_becomes_one_run(stack: ScaleStack) -> None:
    first, second = stack.state["gateway_urls"]
    tag = uuid.uuid4().hex[:8]
    one = fingerprint_of(stack.post_alert(first, f"gw1-{tag}"))
    two = fingerprint_of(stack.post_alert(second, f"gw2-{tag}"))
    assert one != two
    for fingerprint in (one, two):
        wait_for(lambda f=fingerprint: stack.started(f), 240, f"the run of {fingerprint}")
    # the same alert again through the other gateway is the same remediation
    again = stack.post_alert(second, f"gw1-{tag}")
    assert again.status_code == 202
    wait_for(lambda: all(len(stack.runs_of(f)) == 1 for f in (one, two)), 5, "no second run")


def test_clients_keep_working_through_the_other_api_process(stack: ScaleStack) -> None:
    stack.kill("prefect-api-1")
    wait_for(lambda: not alive(stack.pid("prefect-api-1")), 10, "prefect-api-1 gone")
    with stack.api as api:
        for _ in range(10):
            assert api.get("/health").status_code == 200
            assert api.post("/flow_runs/filter", json={"limit": 1}).status_code == 200
    # the gateway creates the run through the balancer, a worker picks it up through it
    fingerprint = fingerprint_of(stack.post_alert(stack.state["gateway_url"], uuid.uuid4().hex))
    wait_for(lambda: stack.started(fingerprint), 240, "a run with one API process left")


def test_the_other_gateway_takes_over_delivery(stack: ScaleStack) -> None:
    [leader] = stack.delivering()
    [follower] = [u for u in stack.state["gateway_urls"] if u != leader]
    leader_name = f"gateway-{stack.state['gateway_urls'].index(leader) + 1}"
    tag = uuid.uuid4().hex[:8]
    fingerprints = [fingerprint_of(stack.post_alert(leader, f"lead-{tag}-{n}")) for n in range(4)]
    stack.kill(leader_name)
    fingerprints += [
        fingerprint_of(stack.post_alert(follower, f"follow-{tag}-{n}")) for n in range(4)
    ]
    wait_for(lambda: stack.delivering() == [follower], 30, "the follower delivering")
    for fingerprint in fingerprints:
        wait_for(lambda f=fingerprint: len(stack.runs_of(f)) == 1, 240, f"the run of {fingerprint}")
    assert all(len(stack.runs_of(f)) == 1 for f in fingerprints)
    wait_for(lambda: (stack.health(follower) or {})["outbox"]["pending"] == 0, 60, "outbox drained")


def test_down_stops_every_process(stack: ScaleStack) -> None:
    from tests.support.scale import remediate

    pids = list(stack.state["pids"].values())
    remediate(stack.env, "down")
    assert not (stack.data / "stack.json").exists()
    assert not any(alive(pid) for pid in pids)
