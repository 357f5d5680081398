from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from remediate.alerts import Alert
from remediate.catalog import Catalog
from tests.support.gateway import (
    Relay,
    config,
    payload,
    running_gateway,
    runs_with_tag,
    sentinel_check,
)


def fingerprint_of(response_json: dict[str, Any]) -> str:
    fingerprint: str = response_json["alerts"][0]["fingerprint"]
    return fingerprint


async def test_signed_alert_becomes_one_flow_run_with_alert_parameters(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    check_id = f"S2-golden-fact-recall-{uuid.uuid4().hex[:8]}"
    catalog = Catalog.model_validate({"services": [{"name": "veris", "checks": ["S2-*"]}]})
    async with running_gateway(config(tmp_path, prefect_server), catalog) as gw:
        response = await gw.post_signed("/v1/alerts/sentinel", sentinel_check(check_id))
        assert response.status_code == 202
        accepted = response.json()
        assert accepted["accepted"] == 1
        assert accepted["alerts"][0]["service"] == "veris"
        counts = await gw.drained()
        assert counts["delivered"] == 1
    runs = await runs_with_tag(prefect_server, f"fingerprint:{fingerprint_of(accepted)}")
    assert len(runs) == 1
    alert = Alert.model_validate(runs[0]["parameters"]["alert"])
    assert (alert.check_id, alert.service, alert.summary) == (
        check_id,
        "veris",
        "Unexpected status: HTTP 500",
    )
    assert {"remediate", f"check:{check_id}", "service:veris", "severity:critical"} <= set(
        runs[0]["tags"]
    )
    assert runs[0]["idempotency_key"] == alert.occurrence_key


async def test_a_thousand_concurrent_posts_of_one_alert_start_one_run(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    body = sentinel_check()
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        responses = await asyncio.gather(
            *(gw.post_signed("/v1/alerts/sentinel", body) for _ in range(1000))
        )
        assert {r.status_code for r in responses} == {202}
        assert sum(r.json()["accepted"] for r in responses) == 1
        assert sum(r.json()["duplicates"] for r in responses) == 999
        counts = await gw.drained()
        assert counts["delivered"] == 1
        assert sum(counts.values()) == 1
    runs = await runs_with_tag(prefect_server, f"fingerprint:{fingerprint_of(responses[0].json())}")
    assert len(runs) == 1


async def test_fifty_fingerprints_twenty_times_shuffled_start_fifty_runs(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    prefix = uuid.uuid4().hex[:8]
    posts = []
    for n in range(50):
        for k in range(20):
            # four distinct occurrences per fingerprint, each delivered five times
            stamp = f"2026-11-27T14:1{k % 4}:00"
            posts.append(sentinel_check(f"S{n}-{prefix}", timestamp=stamp))
    random.Random(7).shuffle(posts)
    fingerprints: set[str] = set()
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        for start in range(0, len(posts), 100):
            chunk = posts[start : start + 100]
            responses = await asyncio.gather(
                *(gw.post_signed("/v1/alerts/sentinel", body) for body in chunk)
            )
            assert {r.status_code for r in responses} == {202}
            fingerprints.update(fingerprint_of(r.json()) for r in responses)
        counts = await gw.drained()
        assert len(fingerprints) == 50
        assert counts == counts | {"pending": 0, "delivered": 50, "occurrence": 150, "failed": 0}
        for fingerprint in sorted(fingerprints):
            await _eventually(
                lambda f=fingerprint: runs_with_tag(prefect_server, f"fingerprint:{f}"),
                lambda runs: len(runs) == 1 and "occurrences:4" in runs[0]["tags"],
            )


async def test_alertmanager_resolved_marks_the_run_and_starts_nothing(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    firing = payload("alertmanager_firing.json")
    unique = uuid.uuid4().hex[:16]
    for i, item in enumerate(firing["alerts"]):
        item["fingerprint"] = f"{unique}{i}"
    resolved = json.loads(json.dumps(firing))
    resolved["status"] = "resolved"
    for item in resolved["alerts"]:
        item["status"] = "resolved"
        item["endsAt"] = "2026-11-27T14:30:00Z"
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        url = "/v1/alerts/alertmanager"
        assert (await gw.post_token(url, firing)).status_code == 202
        await gw.drained()
        for _ in range(2):
            response = await gw.post_token(url, resolved)
            assert response.status_code == 202
        counts = await gw.drained()
        assert counts == counts | {"delivered": 2, "resolved": 2, "pending": 0}
        for i in range(2):
            tag = f"fingerprint:{unique}{i}"
            runs = await _eventually(
                lambda tag=tag: runs_with_tag(prefect_server, tag),
                lambda runs: len(runs) == 1 and "alert-resolved" in runs[0]["tags"],
            )
            assert runs[0]["parameters"]["alert"]["status"] == "firing"


async def test_cap_on_new_runs_queues_in_order_and_drops_nothing(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    now = [1_900_000_000.0]
    prefix = uuid.uuid4().hex[:8]
    cfg = config(tmp_path, prefect_server, max_new_per_minute=3, signature_tolerance_s=1e9)
    async with running_gateway(cfg, clock=lambda: now[0]) as gw:
        fingerprints = []
        for n in range(5):
            response = await gw.post_signed("/v1/alerts/sentinel", sentinel_check(f"C{n}-{prefix}"))
            assert response.status_code == 202
            fingerprints.append(fingerprint_of(response.json()))
        await _eventually(gw.outbox, lambda c: c["delivered"] == 3)
        await asyncio.sleep(0.5)
        assert (await gw.outbox())["pending"] == 2
        metrics = (await gw.client.get("/metrics")).text
        assert 'remediate_gateway_deferred_total{reason="cap"} 1.0' in metrics
        now[0] += 61
        gw.gateway.deliverer.wake.set()
        counts = await gw.drained()
        assert counts["delivered"] == 5
    runs = [(await runs_with_tag(prefect_server, f"fingerprint:{f}"))[0] for f in fingerprints]
    created = [r["created"] for r in runs]
    assert created == sorted(created)


async def test_prefect_down_then_up_delivers_each_alert_exactly_once(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    relay = Relay(int(prefect_server.split(":")[2].split("/")[0]))
    prefix = uuid.uuid4().hex[:8]
    async with running_gateway(config(tmp_path, relay.api_url)) as gw:
        responses = await asyncio.gather(
            *(
                gw.post_signed("/v1/alerts/sentinel", sentinel_check(f"D{n}-{prefix}"))
                for n in range(20)
            )
        )
        assert {r.status_code for r in responses} == {202}
        await _eventually(
            lambda: gw.client.get("/metrics"),
            lambda m: 'delivery_failures_total{kind="transient"}' in m.text,
        )
        assert (await gw.outbox())["pending"] == 20
        health = (await gw.client.get("/healthz")).json()
        assert health["prefect_reachable"] is False
        await relay.start()
        try:
            counts = await gw.drained()
        finally:
            await relay.stop()
    assert counts["delivered"] == 20
    for response in responses:
        runs = await runs_with_tag(prefect_server, f"fingerprint:{fingerprint_of(response.json())}")
        assert len(runs) == 1


async def test_an_occurrence_delivered_after_its_run_ended_still_belongs_to_that_run(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    """Delivery can fall behind (a busy Prefect server, a storm): an occurrence received
    while its fingerprint's run was under way is counted on that run even when the run has
    ended by the time it is delivered; one received after the run ended starts a new run."""
    now = [time.time() - 60]
    check_id = f"L1-late-{uuid.uuid4().hex[:8]}"
    cfg = config(tmp_path, prefect_server, signature_tolerance_s=1e9)
    async with running_gateway(cfg, clock=lambda: now[0]) as gw:

        async def post(stamp: str) -> str:
            body = sentinel_check(check_id, timestamp=stamp)
            response = await gw.post_signed("/v1/alerts/sentinel", body)
            assert response.status_code == 202, response.text
            await gw.drained()
            return fingerprint_of(response.json())

        fingerprint = await post("2026-11-27T14:10:00")
        (first,) = await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")
        async with httpx.AsyncClient(base_url=prefect_server, timeout=30) as client:
            response = await client.post(
                f"/flow_runs/{first['id']}/set_state",
                json={"state": {"type": "COMPLETED", "name": "Completed"}, "force": True},
            )
            assert response.status_code in (200, 201), response.text
        now[0] += 5  # received before the run ended (the clock is a minute behind)
        await post("2026-11-27T14:11:00")
        assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 1
        now[0] = time.time() + 600  # received after the run ended
        await post("2026-11-27T14:12:00")
        counts = await gw.drained()
        assert counts == counts | {"delivered": 2, "occurrence": 1, "pending": 0}
    assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 2


async def _eventually(fetch: Any, done: Any, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached; last value: {value!r}"[:2000])
        await asyncio.sleep(0.1)
