"""Delivery waits after Prefect failures: doubling for errors, within 2 s for a busy 503,
and back to the first step once a run starts. The waits are the values the delivery loop
returns (what it then sleeps), with real HTTP answers from a proxy before Prefect."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from remediate.alerts import Alert
from remediate.gateway.delivery import BUSY_RETRY_MAX_S, Deliverer, DeliveryPolicy
from remediate.gateway.metrics import GatewayMetrics
from remediate.gateway.outbox import Entry, SQLiteOutbox
from remediate.runs.api import PrefectAPI
from tests.support.gateway import TEST_DEPLOYMENT, runs_with_tag
from tests.support.prefect_proxy import PrefectProxy, running_proxy


@pytest.fixture
async def proxy(prefect_server: str, gateway_deployment: str) -> AsyncIterator[PrefectProxy]:
    async with running_proxy(prefect_server) as running:
        yield running


async def record(outbox: SQLiteOutbox, check_id: str) -> str:
    alert = Alert.from_sentinel(
        {"check_id": check_id, "timestamp": "2026-11-27T14:00:00", "status": "fail"}
    )
    entry = Entry(
        alert.id + uuid.uuid4().hex,
        alert.fingerprint,
        "firing",
        alert.model_dump_json(),
        time.time(),
    )
    assert await outbox.record([entry]) == [True]
    return alert.fingerprint


async def test_a_503_is_retried_within_2_s_and_a_started_run_resets_the_backoff(
    tmp_path: Path, proxy: PrefectProxy, prefect_server: str
) -> None:
    outbox = SQLiteOutbox(tmp_path / "outbox.sqlite3")
    await outbox.open()
    policy = DeliveryPolicy(
        max_new_per_minute=1000, retry_initial_s=0.5, retry_max_s=30.0, deployment=TEST_DEPLOYMENT
    )
    prefix = uuid.uuid4().hex[:8]
    async with PrefectAPI(proxy.api_url) as prefect:
        deliverer = Deliverer(outbox, prefect, GatewayMetrics(), policy)
        try:
            first = await record(outbox, f"BUSY-1-{prefix}")
            second = await record(outbox, f"BUSY-2-{prefix}")
            proxy.create_answers = [500] * 7
            waits = [await deliverer.deliver_once() for _ in range(7)]
            assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]

            # however long the errors before it, a busy server is asked again within 2 s
            proxy.create_answers = [503, 503]
            waits = [await deliverer.deliver_once() for _ in range(2)]
            assert waits == [BUSY_RETRY_MAX_S, BUSY_RETRY_MAX_S]

            # the first alert's run starts, the second's creation fails in the same batch:
            # the wait starts again from the first step
            proxy.create_answers = [None, 500]
            assert await deliverer.deliver_once() == 0.5
            assert proxy.creates_answered == [500] * 7 + [503, 503, 201, 500]
            assert len(await runs_with_tag(prefect_server, f"fingerprint:{first}")) == 1

            assert await deliverer.deliver_once() == 0.0
            assert len(await runs_with_tag(prefect_server, f"fingerprint:{second}")) == 1
        finally:
            deliverer.stop()
            await outbox.close()
    counts = await outbox_counts(tmp_path / "outbox.sqlite3")
    assert counts == counts | {"delivered": 2, "pending": 0}


async def outbox_counts(path: Path) -> dict[str, int]:
    outbox = SQLiteOutbox(path)
    await outbox.open()
    try:
        return await outbox.counts()
    finally:
        await outbox.close()
