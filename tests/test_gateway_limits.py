"""What one request may become is bounded, and a token is checked before the body is read."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from remediate.gateway.formats import grafana_alerts
from remediate.gateway.limits import OverLimit, RequestLimits
from tests.support.gateway import bearer, config, payload, running_gateway
from tests.support.processes import free_port

GRAFANA = "/v1/alerts/grafana"
ALERTMANAGER = "/v1/alerts/alertmanager"


@pytest.fixture
def unreachable_prefect() -> str:
    return f"http://127.0.0.1:{free_port()}/api"


def grafana_group(alerts: int, title_bytes: int = 0) -> dict[str, Any]:
    """Grafana's documented payload with ``alerts`` alerts and a group title of
    ``title_bytes``, which is copied into every alert built from the group."""
    body = payload("grafana.json")
    template = body["alerts"][0]
    body["alerts"] = [copy.deepcopy(template) | {"fingerprint": f"f{i}"} for i in range(alerts)]
    if title_bytes:
        body["title"] = "t" * title_bytes
    return body


def test_group_fields_copied_into_every_alert_are_refused_before_the_alerts_are_built() -> None:
    body = grafana_group(94, 20_000)
    raw = len(json.dumps(body))
    built = grafana_alerts(body)  # without limits, as before: many times the body's size
    assert sum(len(a.model_dump_json()) for a in built) > 15 * raw
    with pytest.raises(OverLimit) as refused:
        grafana_alerts(body, limits=RequestLimits(max_total_bytes=1_000_000))
    assert refused.value.limit == "max_request_alert_bytes"


async def test_amplifying_group_answers_413_naming_the_limit_and_records_nothing(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        body = grafana_group(94, 30_000)
        assert len(json.dumps(body)) < gw.config.max_body_bytes
        response = await gw.post_token(GRAFANA, body)
        assert response.status_code == 413
        assert "max_request_alert_bytes" in response.json()["detail"]
        assert (await gw.outbox())["pending"] == 0


async def test_each_cap_is_named_when_it_is_passed(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    cfg = config(
        tmp_path,
        unreachable_prefect,
        max_alerts_per_request=5,
        max_alert_bytes=8192,
        max_request_alert_bytes=20_000,
    )
    async with running_gateway(cfg) as gw:
        many = await gw.post_token(GRAFANA, grafana_group(6))
        assert many.status_code == 413
        assert many.json()["detail"] == "request holds 6 alerts; max_alerts_per_request is 5"

        fat = payload("alertmanager_firing.json")
        fat["alerts"] = fat["alerts"][:1]
        fat["alerts"][0]["annotations"]["description"] = "d" * 9000
        response = await gw.post_token(ALERTMANAGER, fat)
        assert response.status_code == 413
        assert "max_alert_bytes is 8192" in response.json()["detail"]

        big = {"id": "1", "check_id": "c", "details": {"blob": "b" * 9000}}
        response = await gw.post_token("/v1/alerts/generic", big)
        assert response.status_code == 413
        assert "max_alert_bytes" in response.json()["detail"]

        together = grafana_group(5)
        for item in together["alerts"]:
            item["annotations"] = {"runbook": "d" * 3500}
        response = await gw.post_token(GRAFANA, together)
        assert response.status_code == 413
        assert "max_request_alert_bytes is 20000" in response.json()["detail"]

        assert (await gw.post_token(GRAFANA, grafana_group(5))).status_code == 202
        assert (await gw.outbox())["pending"] == 5


class CountingBody:
    """A request body of ``chunks`` chunks that counts how many the server pulled."""

    def __init__(self, chunks: int, size: int = 65_536) -> None:
        self.chunks = chunks
        self.size = size
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"x" * self.size


async def test_a_bad_token_is_refused_before_the_body_is_read(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        for path in (ALERTMANAGER, GRAFANA, "/v1/alerts/generic", "/repos/o/r/dispatches"):
            huge = CountingBody(1000)  # 64 MiB, far over the body limit
            response = await gw.client.post(
                path, content=huge, headers={"Authorization": "Bearer wrong"}
            )
            assert response.status_code == 401, path
            assert huge.pulled <= 1, (path, huge.pulled)

        unsigned = CountingBody(1000)
        response = await gw.client.post("/v1/alerts/sentinel", content=unsigned)
        assert response.status_code == 401
        assert unsigned.pulled <= 1

        good = CountingBody(1000)
        response = await gw.client.post(ALERTMANAGER, content=good, headers=bearer())
        assert response.status_code == 413
        assert 1 < good.pulled < 1000
