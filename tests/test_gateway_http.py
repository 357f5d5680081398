from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from remediate.alerts import Alert
from remediate.catalog import Catalog, CatalogError, load_catalog
from remediate.gateway.app import create_app
from remediate.gateway.config import GatewayConfig
from tests.support.gateway import (
    TOKEN,
    bearer,
    config,
    payload,
    running_gateway,
    runs_with_tag,
    sentinel_check,
    signed_headers,
)
from tests.support.processes import free_port


@pytest.fixture
def unreachable_prefect() -> str:
    return f"http://127.0.0.1:{free_port()}/api"


async def test_body_limit_answers_413(tmp_path: Path, unreachable_prefect: str) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect, max_body_bytes=4096)) as gw:
        big = json.dumps(sentinel_check(message="x" * 5000)).encode()
        response = await gw.client.post(
            "/v1/alerts/sentinel", content=big, headers=signed_headers(big)
        )
        assert response.status_code == 413
        assert "4096" in response.json()["detail"]

        async def chunks():  # no Content-Length: the limit applies while reading
            for _ in range(10):
                yield b"x" * 1000

        response = await gw.client.post("/v1/alerts/generic", content=chunks(), headers=bearer())
        assert response.status_code == 413


async def test_rate_limit_answers_429_with_retry_after(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    cfg = config(tmp_path, unreachable_prefect, rate_per_s=0.5, rate_burst=3)
    async with running_gateway(cfg) as gw:
        now = [1000.0]  # the bucket's clock stands still unless the test moves it
        gw.gateway.intake.limiter.clock = lambda: now[0]

        async def post() -> httpx.Response:
            return await gw.post_signed("/v1/alerts/sentinel", sentinel_check())

        codes = []
        for _ in range(5):
            response = await post()
            codes.append(response.status_code)
        assert codes == [202, 202, 202, 429, 429]
        assert response.headers["Retry-After"] == "2"  # one token at 0.5 per second
        now[0] += 1.9
        assert (await post()).status_code == 429
        now[0] += 0.1
        assert (await post()).status_code == 202
        assert (await post()).status_code == 429
        assert (await gw.client.get("/healthz")).status_code == 200


async def test_source_allow_list(tmp_path: Path, unreachable_prefect: str) -> None:
    denied = config(tmp_path / "a", unreachable_prefect, allow_cidrs=["10.0.0.0/8"])
    async with running_gateway(denied) as gw:
        response = await gw.post_signed("/v1/alerts/sentinel", sentinel_check())
        assert response.status_code == 403
    allowed = config(tmp_path / "b", unreachable_prefect, allow_cidrs=["10.0.0.0/8", "127.0.0.0/8"])
    async with running_gateway(allowed) as gw:
        response = await gw.post_signed("/v1/alerts/sentinel", sentinel_check())
        assert response.status_code == 202


async def test_malformed_payloads_answer_422_naming_the_field(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        response = await gw.post_signed("/v1/alerts/sentinel", sentinel_check(status="bogus"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "status"
        assert response.json()["detail"] == "malformed payload at status"
        body = payload("alertmanager_firing.json")
        body["alerts"][0]["labels"] = {"alertname": ["not", "a", "string"]}
        response = await gw.post_token("/v1/alerts/alertmanager", body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "alerts.0.labels.alertname"
        response = await gw.post_token("/v1/alerts/generic", {"id": "x"})
        assert {e["field"] for e in response.json()["errors"]} == {"check_id"}
        response = await gw.post_token("/v1/alerts/generic", [1, 2])
        assert response.json()["errors"] == [
            {"field": "body", "message": "expected a JSON object, got array"}
        ]
        raw = b'{"check_id": "S1"'
        response = await gw.client.post(
            "/v1/alerts/sentinel", content=raw, headers=signed_headers(raw)
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body"


async def test_passing_check_is_acknowledged_and_ignored(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        response = await gw.post_signed("/v1/alerts/sentinel", sentinel_check(status="pass"))
        assert response.status_code == 200
        assert response.json()["accepted"] == 0
        assert "passed" in response.json()["ignored"]
        assert (await gw.outbox())["pending"] == 0


async def test_health_metrics_and_openapi(tmp_path: Path, unreachable_prefect: str) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        await gw.post_signed("/v1/alerts/sentinel", sentinel_check())
        health = (await gw.client.get("/healthz")).json()
        assert health["status"] == "ok"
        assert health["outbox"]["pending"] == 1
        metrics = await gw.client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        for name in (
            'remediate_gateway_received_total{format="sentinel"} 1.0',
            'remediate_gateway_accepted_total{format="sentinel"} 1.0',
            "remediate_gateway_outbox_depth 1.0",
            "remediate_gateway_delivery_latency_seconds_bucket",
            'remediate_gateway_deferred_total{reason="cap"} 0.0',
            'remediate_gateway_deferred_total{reason="threshold"} 0.0',
            "remediate_gateway_delivered_total 0.0",
        ):
            assert name in metrics.text
        document = (await gw.client.get("/openapi.json")).json()
        assert set(document["paths"]) == {
            "/v1/alerts/sentinel",
            "/repos/{owner}/{repo}/dispatches",
            "/v1/alerts/alertmanager",
            "/v1/alerts/grafana",
            "/v1/alerts/generic",
            "/v1/alerts/pagerduty",
            "/v1/alerts/sentry",
            "/v1/alerts/datadog",
            "/v1/alerts/opsgenie",
            "/v1/approvals/slack",
            "/v1/approvals/github",
            "/issues/{number}",
            "/healthz",
            "/metrics",
        }
        schemas = document["components"]["schemas"]
        assert {
            "SentinelCheckResult",
            "AlertmanagerWebhook",
            "GenericAlert",
            "PagerDutyWebhook",
            "SentryIssueAlert",
            "SentryMetricAlert",
            "DatadogWebhook",
            "OpsgenieWebhook",
        } <= set(schemas)
        sentinel = document["paths"]["/v1/alerts/sentinel"]["post"]
        assert {"202", "401", "413", "422", "429"} <= set(sentinel["responses"])


def test_config_from_environment(tmp_path: Path) -> None:
    cfg = GatewayConfig.from_env(
        {
            "REMEDIATE_HMAC_SECRETS": "s3cr3t-new, s3cr3t-old",
            "REMEDIATE_INGEST_TOKENS": "tok-xyz",
            "REMEDIATE_DATA_DIR": str(tmp_path),
            "PREFECT_API_URL": "http://127.0.0.1:4200/api",
            "REMEDIATE_GATEWAY_ALLOW_CIDRS": "127.0.0.1/32,::1",
        }
    )
    assert cfg.secrets == ["s3cr3t-new", "s3cr3t-old"]
    assert cfg.tokens == ["tok-xyz"]
    assert cfg.sqlite_path == tmp_path / "gateway-outbox.sqlite3"
    assert "s3cr3t" not in repr(cfg) and "tok-xyz" not in repr(cfg)
    assert [str(n) for n in cfg.allow_cidrs] == ["127.0.0.1/32", "::1/128"]


HOSTILE = [
    "$(touch {marker})",
    "`touch {marker}`",
    '"; touch {marker}; echo "',
    "line one\nEOF\ntouch {marker}\nEOF",
    "@here @channel #1 ```\n</details><script>alert(1)</script>",
    "ünïcødé ☃ " * 6000,
]


async def test_hostile_payloads_are_recorded_as_inert_data(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    prefix = uuid.uuid4().hex[:8]
    sent: dict[str, str] = {}
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        for n, template in enumerate(HOSTILE):
            message = template.format(marker=marker)
            check_id = f"H{n}-{prefix}"
            response = await gw.post_signed(
                "/v1/alerts/sentinel", sentinel_check(check_id, message=message)
            )
            assert response.status_code == 202
            sent[response.json()["alerts"][0]["fingerprint"]] = message
        labels = {"alertname": f"$(touch {marker})", "severity": "`id`"}
        body = payload("alertmanager_firing.json")
        body["alerts"] = [body["alerts"][0] | {"labels": labels, "fingerprint": prefix}]
        response = await gw.client.post(
            "/v1/alerts/alertmanager", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 202
        nested = "[" * 5000 + "]" * 5000
        raw = ('{"check_id": "S1", "details": ' + nested + "}").encode()
        response = await gw.client.post(
            "/v1/alerts/sentinel", content=raw, headers=signed_headers(raw)
        )
        assert response.status_code == 422
        await gw.drained()
    for fingerprint, message in sent.items():
        runs = await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")
        assert len(runs) == 1
        alert = Alert.model_validate(runs[0]["parameters"]["alert"])
        expected = message if len(message) <= 10_000 else message[:9_999] + "…"
        assert alert.summary == expected
    runs = await runs_with_tag(prefect_server, f"fingerprint:{prefix}")
    assert runs[0]["parameters"]["alert"]["check_id"] == f"$(touch {marker})"
    assert not marker.exists()


def test_cap_comes_from_the_catalog_unless_the_environment_sets_it(tmp_path: Path) -> None:
    catalog_file = tmp_path / "remediate.yaml"
    catalog_file.write_text("gateway:\n  max_new_per_minute: 4\n", encoding="utf-8")
    catalog = load_catalog(catalog_file)
    unset = GatewayConfig(data_dir=tmp_path)
    assert create_app(unset, catalog).state.gateway.deliverer.policy.max_new_per_minute == 4
    assert create_app(unset, Catalog()).state.gateway.deliverer.policy.max_new_per_minute == 10
    env = GatewayConfig.from_env({"REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE": "7"})
    assert create_app(env, catalog).state.gateway.deliverer.policy.max_new_per_minute == 7
    catalog_file.write_text("gateway:\n  max_new_per_minute: 0\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"gateway\.max_new_per_minute"):
        load_catalog(catalog_file)
