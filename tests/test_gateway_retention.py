"""Outbox retention: finished rows past it lose their alert but keep their delivery key."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

from tests.support.gateway import config, running_gateway, runs_with_tag, sentinel_check

DAY = 86400.0


def stored_alerts(path: Path) -> list[str]:
    """Each outbox row's stored alert, in the order received."""
    with sqlite3.connect(path) as db:
        return [alert for (alert,) in db.execute("SELECT alert FROM outbox ORDER BY seq")]


async def test_finished_rows_past_retention_are_emptied_and_a_replay_stays_a_duplicate(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    start = time.time()
    now = [start]
    cfg = config(tmp_path, prefect_server, signature_tolerance_s=1e9)
    assert cfg.retention_days == 7
    prefix = uuid.uuid4().hex[:8]
    old_body = sentinel_check(f"RET-old-{prefix}")

    def stored() -> list[str]:
        return stored_alerts(cfg.sqlite_path)

    async with running_gateway(cfg, clock=lambda: now[0]) as gw:

        async def post(body: dict[str, object]) -> str:
            response = await gw.post_signed("/v1/alerts/sentinel", body)
            assert response.status_code == 202, response.text
            await gw.drained()
            return str(response.json()["alerts"][0]["fingerprint"])

        old = await post(old_body)
        now[0] = start + 7 * DAY - 3600  # an hour short of the retention
        await post(sentinel_check(f"RET-young-{prefix}"))
        old_alert, young_alert = stored()
        assert f"RET-old-{prefix}" in old_alert and f"RET-young-{prefix}" in young_alert

        now[0] = start + 7 * DAY + 2 * 3600  # the old row is past it, the young one is not
        await post(sentinel_check(f"RET-new-{prefix}"))
        emptied, young, newest = stored()
        assert emptied == ""
        assert f"RET-young-{prefix}" in young and f"RET-new-{prefix}" in newest

        replay = await gw.post_signed("/v1/alerts/sentinel", old_body)
        assert replay.status_code == 202
        assert replay.json()["accepted"] == 0 and replay.json()["duplicates"] == 1
        counts = await gw.drained()
    assert counts == counts | {"delivered": 3, "pending": 0}
    assert len(await runs_with_tag(prefect_server, f"fingerprint:{old}")) == 1
