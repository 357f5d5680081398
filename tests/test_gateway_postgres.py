from __future__ import annotations

import asyncio
import gc
import uuid
from pathlib import Path

from remediate.gateway.outbox import PostgresOutbox
from tests.support.gateway import (
    Relay,
    config,
    running_gateway,
    runs_with_tag,
    sentinel_check,
)
from tests.support.gateway_policy import (
    check_claims_last_across_a_reopen,
    check_held_alerts_expire,
    check_threshold_across_restart,
)


async def test_postgres_outbox_dedupes_and_delivers_once(
    tmp_path: Path, prefect_server: str, gateway_deployment: str, postgres_outbox_url: str
) -> None:
    prefix = uuid.uuid4().hex[:8]
    bodies = [sentinel_check(f"P{n % 10}-{prefix}") for n in range(200)]
    cfg = config(tmp_path, prefect_server, outbox_url=postgres_outbox_url)
    async with running_gateway(cfg) as gw:
        responses = await asyncio.gather(
            *(gw.post_signed("/v1/alerts/sentinel", body) for body in bodies)
        )
        assert {r.status_code for r in responses} == {202}
        assert sum(r.json()["accepted"] for r in responses) == 10
        counts = await gw.drained()
    assert counts == counts | {"delivered": 10, "pending": 0}
    fingerprints = {r.json()["alerts"][0]["fingerprint"] for r in responses}
    for fingerprint in fingerprints:
        assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 1


async def test_postgres_outbox_keeps_alerts_across_a_restart_while_prefect_is_down(
    tmp_path: Path, prefect_server: str, gateway_deployment: str, postgres_outbox_url: str
) -> None:
    relay = Relay(int(prefect_server.split(":")[2].split("/")[0]))
    prefix = uuid.uuid4().hex[:8]
    cfg = config(tmp_path, relay.api_url, outbox_url=postgres_outbox_url)
    async with running_gateway(cfg) as gw:
        responses = await asyncio.gather(
            *(
                gw.post_signed("/v1/alerts/sentinel", sentinel_check(f"R{n}-{prefix}"))
                for n in range(5)
            )
        )
        assert (await gw.outbox())["pending"] == 5
    await relay.start()
    try:
        async with running_gateway(cfg) as gw:
            counts = await gw.drained()
    finally:
        await relay.stop()
    assert counts["delivered"] == 5
    for response in responses:
        fingerprint = response.json()["alerts"][0]["fingerprint"]
        assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 1


async def test_two_gateways_share_one_postgres_outbox_and_one_delivers(
    tmp_path: Path, prefect_server: str, gateway_deployment: str, postgres_outbox_url: str
) -> None:
    prefix = uuid.uuid4().hex[:8]
    cfg = config(tmp_path, prefect_server, outbox_url=postgres_outbox_url)
    async with running_gateway(cfg) as first, running_gateway(cfg) as second:
        bodies = [sentinel_check(f"T{n % 20}-{prefix}") for n in range(40)]
        responses = await asyncio.gather(
            *(
                (first if n % 2 else second).post_signed("/v1/alerts/sentinel", body)
                for n, body in enumerate(bodies)
            )
        )
        assert sum(r.json()["accepted"] for r in responses) == 20
        await first.drained()
        delivered = [
            _metric((await gw.client.get("/metrics")).text, "remediate_gateway_delivered_total")
            for gw in (first, second)
        ]
    assert sorted(delivered) == [0, 20]
    for fingerprint in {r.json()["alerts"][0]["fingerprint"] for r in responses}:
        assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 1


def _metric(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


async def test_postgres_outbox_keeps_threshold_counts_across_a_restart(
    tmp_path: Path, prefect_server: str, gateway_deployment: str, postgres_outbox_url: str
) -> None:
    cfg = config(
        tmp_path, prefect_server, outbox_url=postgres_outbox_url, signature_tolerance_s=1e9
    )
    await check_threshold_across_restart(cfg, prefect_server)


async def test_postgres_outbox_expires_held_alerts_when_their_window_closes(
    tmp_path: Path, prefect_server: str, gateway_deployment: str, postgres_outbox_url: str
) -> None:
    cfg = config(
        tmp_path, prefect_server, outbox_url=postgres_outbox_url, signature_tolerance_s=1e9
    )
    await check_held_alerts_expire(cfg, prefect_server)


async def test_one_gateway_asking_to_lead_from_two_loops_keeps_one_session(
    postgres_outbox_url: str,
) -> None:
    first, second = PostgresOutbox(postgres_outbox_url), PostgresOutbox(postgres_outbox_url)
    await first.open()
    await second.open()
    try:
        assert all(await asyncio.gather(*(first.lead() for _ in range(5))))
        gc.collect()
        await asyncio.sleep(0.5)
        assert await first.lead()
        assert not await second.lead()
    finally:
        await first.close()
        await second.close()


async def test_postgres_outbox_keeps_claims_across_a_reopen(postgres_outbox_url: str) -> None:
    await check_claims_last_across_a_reopen(lambda: PostgresOutbox(postgres_outbox_url))
