"""The gateway's edges: odd signature headers, forwarded addresses, /metrics, Grafana replays."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import httpx
import pytest

from remediate.gateway.auth import SIGNATURE_HEADER, Unauthorized, verify_grafana_signature
from remediate.gateway.config import GatewayConfig
from tests.support.gateway import (
    SECRET,
    config,
    payload,
    running_gateway,
    sentinel_check,
    signed_headers,
    start_gateway_process,
    wait_healthy,
)
from tests.support.processes import free_port, stop
from tests.test_gateway_auth import NOW, reason

GRAFANA_HEADER = "X-Grafana-Alerting-Signature"


@pytest.fixture
def unreachable_prefect() -> str:
    return f"http://127.0.0.1:{free_port()}/api"


def test_non_ascii_signatures_are_malformed_not_a_crash() -> None:
    assert reason(f"t={NOW},v1=\u00e9\u00e9") == "malformed_signature"
    assert reason(f"t={NOW},v1=00,v1=\u2603") == "malformed_signature"
    with pytest.raises(Unauthorized) as refused:
        verify_grafana_signature("\u00e9", None, b"{}", [SECRET], NOW, 300, False)
    assert refused.value.reason == "malformed_signature"


async def test_non_ascii_signature_headers_answer_401(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    cfg = config(tmp_path, unreachable_prefect, grafana_signature_header=GRAFANA_HEADER)
    async with running_gateway(cfg) as gw:
        raw = json.dumps(sentinel_check()).encode()
        header = f"t={int(time.time())},v1=".encode() + "\u00e9t\u00e9".encode()
        for path, name in (
            ("/v1/alerts/sentinel", SIGNATURE_HEADER),
            ("/v1/alerts/generic", SIGNATURE_HEADER),
            ("/v1/alerts/grafana", GRAFANA_HEADER),
        ):
            response = await gw.client.post(path, content=raw, headers={name: header})
            assert response.status_code == 401, path
        token = "Bearer t\u00f6ken".encode()
        response = await gw.client.post(
            "/v1/alerts/generic", content=raw, headers={"Authorization": token}
        )
        assert response.status_code == 401


async def test_metrics_require_the_token_when_one_is_set(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect, metrics_token="m-tok")) as gw:
        assert (await gw.client.get("/metrics")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await gw.client.get("/metrics", headers=wrong)).status_code == 401
        right = await gw.client.get("/metrics", headers={"Authorization": "Bearer m-tok"})
        assert right.status_code == 200
        assert "remediate_gateway" in right.text
        assert (await gw.client.get("/healthz")).status_code == 200


async def replay_after_retention(cfg: GatewayConfig) -> None:
    """A Grafana body signed without a timestamp, delivered, then replayed long after the
    signature tolerance and the outbox's retention."""
    now = [time.time()]
    body = payload("grafana.json")
    for item in body["alerts"]:
        item["fingerprint"] = f"replay-{time.time_ns()}-{item['fingerprint']}"
    raw = json.dumps(body).encode()
    headers = {GRAFANA_HEADER: hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()}
    async with running_gateway(cfg, clock=lambda: now[0]) as gw:
        first = await gw.client.post("/v1/alerts/grafana", content=raw, headers=headers)
        assert first.json()["accepted"] == 2
        await gw.drained()
        now[0] += cfg.retention_days * 86400 * 3
        await gw.gateway.outbox.prune(now[0] - cfg.retention_days * 86400)
        replay = await gw.client.post("/v1/alerts/grafana", content=raw, headers=headers)
        assert replay.status_code == 202
        assert replay.json()["accepted"] == 0 and replay.json()["duplicates"] == 2
        counts = await gw.drained()
        assert counts["delivered"] == 2 and counts["pending"] == 0


async def test_grafana_hmac_without_timestamp_replayed_later_stays_a_duplicate(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    await replay_after_retention(
        config(tmp_path, prefect_server, grafana_signature_header=GRAFANA_HEADER)
    )


async def test_grafana_replay_stays_a_duplicate_in_a_postgres_outbox(
    tmp_path: Path, prefect_server: str, gateway_deployment: str, postgres_outbox_url: str
) -> None:
    cfg = config(
        tmp_path,
        prefect_server,
        grafana_signature_header=GRAFANA_HEADER,
        outbox_url=postgres_outbox_url,
    )
    await replay_after_retention(cfg)


async def test_forwarded_addresses_are_ignored_unless_the_proxy_is_trusted(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    raw = json.dumps(sentinel_check()).encode()
    forwarded = signed_headers(raw) | {"X-Forwarded-For": "10.1.2.3"}
    allow = {"REMEDIATE_GATEWAY_ALLOW_CIDRS": "10.0.0.0/8"}
    for name, extra, expected in (
        ("default", {}, 403),
        ("trusted", {"REMEDIATE_TRUSTED_PROXIES": "127.0.0.1"}, 202),
    ):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = start_gateway_process(
            tmp_path / name, unreachable_prefect, port, **allow, **extra
        )
        try:
            await wait_healthy(url)
            async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
                response = await client.post("/v1/alerts/sentinel", content=raw, headers=forwarded)
            assert response.status_code == expected, (name, response.text)
        finally:
            stop(process)
