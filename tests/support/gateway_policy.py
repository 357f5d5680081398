"""Shared steps of the gateway policy tests (occurrence thresholds), for both outboxes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from remediate.catalog import Catalog
from remediate.gateway.config import GatewayConfig
from remediate.gateway.outbox import Outbox
from remediate.gateway.outbox.base import STALE_CLAIM_S
from tests.support.gateway import running_gateway, runs_with_tag, sentinel_check

START = 1_900_000_000.0


def threshold_catalog(occurrences: int = 3, window_s: float = 600) -> Catalog:
    return Catalog.model_validate(
        {
            "gateway": {
                "thresholds": [
                    {
                        "checks": ["S2-*"],
                        "severity": "critical",
                        "occurrences": occurrences,
                        "window_s": window_s,
                    }
                ]
            }
        }
    )


def occurrence(check_id: str, n: int) -> dict[str, Any]:
    return sentinel_check(check_id, timestamp=f"2026-11-27T14:{n:02d}:00")


async def fingerprint_runs(prefect_server: str, fingerprint: str) -> list[dict[str, Any]]:
    return await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")


async def check_threshold_across_restart(cfg: GatewayConfig, prefect_server: str) -> None:
    now = [START]
    check_id = f"S2-recall-{uuid.uuid4().hex[:8]}"
    catalog = threshold_catalog()
    async with running_gateway(cfg, catalog, clock=lambda: now[0]) as gw:
        responses = []
        for n in range(2):
            responses.append(await gw.post_signed("/v1/alerts/sentinel", occurrence(check_id, n)))
            now[0] += 100
        assert {r.status_code for r in responses} == {202}
        fingerprint = responses[0].json()["alerts"][0]["fingerprint"]
        counts = await gw.drained()
        assert counts == counts | {"held": 2, "delivered": 0, "pending": 0}
        metrics = (await gw.client.get("/metrics")).text
        assert 'remediate_gateway_deferred_total{reason="threshold"} 2.0' in metrics
    assert await fingerprint_runs(prefect_server, fingerprint) == []
    async with running_gateway(cfg, catalog, clock=lambda: now[0]) as gw:
        response = await gw.post_signed("/v1/alerts/sentinel", occurrence(check_id, 2))
        assert response.status_code == 202
        counts = await gw.drained()
        assert counts == counts | {"held": 0, "delivered": 1, "occurrence": 2, "pending": 0}
    runs = await fingerprint_runs(prefect_server, fingerprint)
    assert len(runs) == 1
    assert "occurrences:3" in runs[0]["tags"]
    assert runs[0]["parameters"]["alert"]["id"] == response.json()["alerts"][0]["id"]


async def check_held_alerts_expire(cfg: GatewayConfig, prefect_server: str) -> None:
    """Alerts spread wider than the window start nothing; each held one expires when its
    window closes, is counted, stays in the outbox, and no longer counts after a restart."""
    now = [START]
    check_id = f"S2-recall-{uuid.uuid4().hex[:8]}"
    catalog = threshold_catalog(occurrences=3, window_s=600)
    async with running_gateway(cfg, catalog, clock=lambda: now[0]) as gw:
        for n in range(4):
            response = await gw.post_signed("/v1/alerts/sentinel", occurrence(check_id, n))
            assert response.status_code == 202
            await gw.drained()
            now[0] += 400
        fingerprint = response.json()["alerts"][0]["fingerprint"]
        now[0] += 600
        gw.gateway.deliverer.wake.set()
        deadline = asyncio.get_running_loop().time() + 60
        while (counts := await gw.outbox())[
            "held"
        ] and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        assert counts == counts | {"held": 0, "expired": 4, "delivered": 0, "occurrence": 0}
        metrics = (await gw.client.get("/metrics")).text
        assert "remediate_gateway_expired_total 4.0" in metrics
    assert await fingerprint_runs(prefect_server, fingerprint) == []
    async with running_gateway(cfg, catalog, clock=lambda: now[0]) as gw:
        for n in range(4, 6):
            response = await gw.post_signed("/v1/alerts/sentinel", occurrence(check_id, n))
            assert response.status_code == 202
        counts = await gw.drained()
        assert counts == counts | {"held": 2, "expired": 4, "delivered": 0}
    assert await fingerprint_runs(prefect_server, fingerprint) == []


async def check_claims_last_across_a_reopen(open_one: Callable[[], Outbox]) -> None:
    """A claim is taken once, also by a reopened outbox; a released one can be taken again;
    an unfinished one is taken over once stale, a finished one never; pruning forgets
    claims older than its horizon."""
    key = f"github:acme/service:issue_comment:{uuid.uuid4().int % 10**9}"
    first = open_one()
    await first.open()
    try:
        assert await first.claim(key, 1000.0)
        assert not await first.claim(key, 1001.0)
    finally:
        await first.close()
    second = open_one()
    await second.open()
    try:
        assert not await second.claim(key, 1002.0)
        await second.release(key)
        assert await second.claim(key, 1003.0)
        assert not await second.claim(key, 1003.0 + STALE_CLAIM_S - 1)
        assert await second.claim(key, 1003.0 + STALE_CLAIM_S + 1)  # its gateway stopped
        await second.finish(key)
        assert not await second.claim(key, 1003.0 + 10 * STALE_CLAIM_S)
        await second.prune(1003.0 + 2 * STALE_CLAIM_S)
        assert await second.claim(key, 1003.0 + 20 * STALE_CLAIM_S)
    finally:
        await second.close()
