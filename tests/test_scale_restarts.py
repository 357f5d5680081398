"""The ``scale`` profile across restarts of its Redis and its PostgreSQL: both servers of
its own (redis-server on a free port, a PostgreSQL cluster made with initdb), so stopping
them disturbs nothing else on the machine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.scale import Postgres, Redis, ScaleStack, scale_profile, wait_for

pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Redis, Postgres]]:
    home = tmp_path_factory.mktemp("servers")
    redis = Redis(home)
    postgres = Postgres()
    try:
        redis.start()
        postgres.start()
        yield redis, postgres
    finally:
        redis.stop()
        postgres.remove()


@pytest.fixture(scope="module")
def stack(
    servers: tuple[Redis, Postgres], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScaleStack]:
    redis, postgres = servers
    home = tmp_path_factory.mktemp("scale")
    with scale_profile(home, postgres.url("remediate_scale"), redis.url) as started:
        yield started


def accepted_fingerprint(answer: httpx.Response) -> str:
    assert answer.status_code == 202, answer.text
    return str(answer.json()["alerts"][0]["fingerprint"])


def test_runs_keep_starting_after_redis_restarts(
    stack: ScaleStack, servers: tuple[Redis, Postgres]
) -> None:
    redis, _ = servers
    before = accepted_fingerprint(stack.post_alert(stack.state["gateway_url"], uuid.uuid4().hex))
    wait_for(lambda: stack.started(before), 240, "a run before the restart")
    redis.stop()
    redis.start()
    after = [
        accepted_fingerprint(stack.post_alert(url, uuid.uuid4().hex))
        for url in stack.state["gateway_urls"]
    ]
    for fingerprint in after:
        wait_for(lambda f=fingerprint: stack.started(f), 240, "a run after the restart")


def test_gateways_refuse_while_postgres_is_down_and_deliver_after(
    stack: ScaleStack, servers: tuple[Redis, Postgres]
) -> None:
    _, postgres = servers
    postgres.stop()
    try:
        refused = [
            stack.post_alert(url, f"down-{uuid.uuid4().hex}")
            for url in stack.state["gateway_urls"]
            for _ in range(3)
        ]
    finally:
        postgres.start()
    assert {r.status_code for r in refused} == {503}, [r.text for r in refused]
    assert all(int(r.headers["Retry-After"]) > 0 for r in refused)

    def send_until_recorded(url: str) -> str:
        # as a sender honouring Retry-After does, only sooner
        check_id = f"up-{uuid.uuid4().hex}"
        answers: list[httpx.Response] = []

        def recorded() -> bool:
            answers.append(stack.post_alert(url, check_id))
            assert answers[-1].status_code in (202, 503), answers[-1].text
            return answers[-1].status_code == 202

        wait_for(recorded, 60, f"{url} recording again")
        return accepted_fingerprint(answers[-1])

    fingerprints = [send_until_recorded(url) for url in stack.state["gateway_urls"]]
    for fingerprint in fingerprints:
        wait_for(lambda f=fingerprint: stack.started(f), 300, "a run after PostgreSQL is back")
    wait_for(lambda: len(stack.delivering()) == 1, 60, "one delivering gateway again")
