"""An outbox that cannot record: the gateway answers 503 with Retry-After, never 202."""

from __future__ import annotations

from pathlib import Path

import pytest

from remediate.gateway.outbox.records import Entry
from tests.support.gateway import config, running_gateway, sentinel_check
from tests.support.processes import free_port


async def test_intake_answers_503_with_retry_after_while_the_outbox_cannot_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}/api"
    async with running_gateway(config(tmp_path, unreachable)) as gw:
        outbox = gw.gateway.outbox
        recording = outbox._insert

        async def database_down(entries: list[Entry]) -> list[bool]:
            raise ConnectionRefusedError("connection refused")

        async def unreadable() -> dict[str, int]:
            raise ConnectionRefusedError("connection refused")

        counting = outbox.counts
        monkeypatch.setattr(outbox, "counts", unreadable)
        health = await gw.client.get("/healthz")
        assert health.status_code == 503
        assert int(health.headers["Retry-After"]) > 0
        monkeypatch.setattr(outbox, "counts", counting)

        monkeypatch.setattr(outbox, "_insert", database_down)
        refused = await gw.post_signed("/v1/alerts/sentinel", sentinel_check("down-1"))
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) > 0
        assert "could not be recorded" in refused.json()["detail"]
        assert sum((await gw.outbox()).values()) == 0

        monkeypatch.setattr(outbox, "_insert", recording)
        accepted = await gw.post_signed("/v1/alerts/sentinel", sentinel_check("down-1"))
        assert accepted.status_code == 202
        assert accepted.json()["accepted"] == 1
        assert (await gw.outbox())["pending"] == 1
