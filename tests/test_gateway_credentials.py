"""Each credential speaks only for its own sources: end to end from the gateway to the run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from remediate.alerts import Alert, AlertStatus, Severity
from remediate.catalog import Catalog
from remediate.gateway.config import GatewayConfig
from remediate.gateway.credentials import Credential, CredentialError, parse_credentials
from tests.support.gateway import (
    RunningGateway,
    config,
    payload,
    running_gateway,
    runs_with_tag,
    sentinel_check,
)
from tests.support.processes import free_port

GENERIC = "/v1/alerts/generic"
ALERTMANAGER = "/v1/alerts/alertmanager"
DISPATCH = "/repos/credentum/veris-memory/dispatches"


def scoped(name: str, token: str, sources: tuple[str, ...], services: tuple[str, ...] = ()) -> Any:
    return Credential(name=name, secret=SecretStr(token), sources=sources, services=services)


async def post_as(gw: RunningGateway, token: str, path: str, body: Any) -> Any:
    return await gw.client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def genuine(check: dict[str, Any]) -> Alert:
    return Alert.from_sentinel(check)


@pytest.fixture
def unreachable_prefect() -> str:
    return f"http://127.0.0.1:{free_port()}/api"


def test_plain_variables_keep_working_as_unscoped_credentials() -> None:
    (first, second) = parse_credentials("tok-a, tok-b", "token")
    assert (first.value, second.value) == ("tok-a", "tok-b")
    assert first.sources == () and first.services == ()
    assert first.source_for("generic", None) == "generic"
    with pytest.raises(CredentialError, match="may not speak for source 'veris-sentinel'"):
        first.source_for("generic", "veris-sentinel")


def test_scoped_entries_name_sources_and_services() -> None:
    (sentinel, claimer) = parse_credentials(
        "sentinel:s3:cr@t@veris-sentinel; claimer:tok@generic,nagios/api,db", "token"
    )
    assert sentinel.name == "sentinel" and sentinel.value == "s3:cr@t"
    assert sentinel.sources == ("veris-sentinel",)
    assert claimer.source_for("generic", "nagios") == "nagios"
    assert claimer.services == ("api", "db")
    with pytest.raises(CredentialError, match="service 'web'"):
        claimer.check_service("web")
    with pytest.raises(CredentialError, match="may not speak for source 'grafana'"):
        sentinel.source_for("grafana", None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tok@generic", "expected name:secret"),
        ("bad name:tok@generic", "expected name:secret"),
        ("n:@generic", "empty secret"),
        ("n:tok@", "at least one source"),
        ("n:tok@gen eric", "not a valid name"),
        ("n:tok@generic/a b", "not a valid name"),
    ],
)
def test_malformed_entries_are_refused_naming_the_entry(value: str, message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        parse_credentials(value, "token")
    with pytest.raises(ValueError, match=message):
        GatewayConfig.from_env({"REMEDIATE_INGEST_TOKENS": value})


def test_secrets_never_appear_in_the_configuration_repr() -> None:
    cfg = GatewayConfig.from_env(
        {
            "REMEDIATE_INGEST_TOKENS": "am:tok-secret-1@alertmanager",
            "REMEDIATE_METRICS_TOKEN": "m-1",
        }
    )
    assert "tok-secret-1" not in repr(cfg) and "m-1" not in repr(cfg)


def test_fields_joined_into_a_key_stay_distinct_whatever_they_hold() -> None:
    def alert(source: str, fingerprint: str, alert_id: str) -> Alert:
        return Alert(
            id=alert_id,
            source=source,
            check_id="c",
            severity=Severity.WARNING,
            summary="",
            fired_at=datetime(2026, 11, 27, tzinfo=UTC),
            fingerprint=fingerprint,
        )

    left, right = alert("s", "a:b", "c"), alert("s", "a", "b:c")
    assert left.occurrence_key != right.occurrence_key
    assert left.delivery_key() != right.delivery_key()
    assert alert("a:b", "c", "i").problem_key != alert("a", "b:c", "i").problem_key
    assert alert("x", "f", "i").problem_key != alert("y", "f", "i").problem_key
    assert alert("x", "f", "i").delivery_key() == alert("x", "f", "i").delivery_key()


async def test_unscoped_token_cannot_claim_another_source(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        forged = {"id": "x", "check_id": "S1-probes", "source": "veris-sentinel"}
        response = await gw.post_token(GENERIC, forged)
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "credential 'credential-1' may not speak for source 'veris-sentinel'"
        )
        assert (await gw.outbox())["pending"] == 0


async def test_scoped_credentials_speak_only_for_their_sources_and_services(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    cfg = config(
        tmp_path,
        unreachable_prefect,
        ingest_tokens=[
            scoped("am", "am-token", ("alertmanager",)),
            scoped("claimer", "claim-token", ("generic", "nagios")),
            scoped("api-only", "api-token", ("generic",), ("api",)),
        ],
    )
    async with running_gateway(cfg) as gw:
        body = {"id": "1", "check_id": "disk"}
        assert (await post_as(gw, "am-token", GENERIC, body)).status_code == 403
        assert (
            await post_as(gw, "am-token", DISPATCH, payload("sentinel_dispatch.json"))
        ).status_code == 403
        assert (
            await post_as(gw, "am-token", ALERTMANAGER, payload("alertmanager_firing.json"))
        ).status_code == 202
        claimed = await post_as(gw, "claim-token", GENERIC, body | {"source": "nagios"})
        assert claimed.status_code == 202
        assert (
            await post_as(gw, "claim-token", GENERIC, body | {"source": "zabbix"})
        ).status_code == 403
        assert (
            await post_as(gw, "api-token", GENERIC, body | {"service": "api"})
        ).status_code == 202
        refused = await post_as(gw, "api-token", GENERIC, body | {"id": "2", "service": "db"})
        assert refused.status_code == 403
        assert "may not speak for service 'db'" in refused.json()["detail"]
        stored = [
            Alert.model_validate_json(row.alert_json) for row in await gw.gateway.outbox.pending(10)
        ]
        assert sorted(a.source for a in stored) == [
            "alertmanager",
            "alertmanager",
            "generic",
            "nagios",
        ]


async def test_a_forged_alert_cannot_pre_empt_the_genuine_signed_one(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    check = sentinel_check()
    real = genuine(check)
    forged = {
        "id": real.id,
        "check_id": real.check_id,
        "fingerprint": real.fingerprint,
        "severity": "critical",
    }
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        claiming = await gw.post_token(GENERIC, forged | {"source": "veris-sentinel"})
        assert claiming.status_code == 403
        # the same identity without the claim is an alert of the generic source
        assert (await gw.post_token(GENERIC, forged)).json()["accepted"] == 1
        signed = await gw.post_signed("/v1/alerts/sentinel", check)
        assert signed.status_code == 202
        assert signed.json()["accepted"] == 1 and signed.json()["duplicates"] == 0
        await gw.drained()
    runs = await runs_with_tag(prefect_server, f"fingerprint:{real.fingerprint}")
    sources = sorted(r["parameters"]["alert"]["source"] for r in runs)
    assert sources == ["generic", "veris-sentinel"]
    (run,) = [r for r in runs if r["parameters"]["alert"]["source"] == "veris-sentinel"]
    assert run["parameters"]["alert"]["summary"] == check["message"]


def alertmanager_pair(fingerprint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    firing = payload("alertmanager_firing.json")
    firing["alerts"] = firing["alerts"][:1]
    firing["alerts"][0]["fingerprint"] = fingerprint
    resolved = json.loads(json.dumps(firing))
    resolved["status"] = "resolved"
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-11-27T14:30:00Z"
    return firing, resolved


def problem_key(fingerprint: str, source: str = "alertmanager") -> str:
    alert = Alert(
        id="any",
        source=source,
        check_id="any",
        severity=Severity.WARNING,
        summary="",
        fired_at=datetime.now(UTC),
        fingerprint=fingerprint,
    )
    return alert.problem_key


def forged_generic(firing: dict[str, Any], status: AlertStatus, alert_id: str) -> dict[str, Any]:
    item = firing["alerts"][0]
    return {
        "id": alert_id,
        "check_id": item["labels"]["alertname"],
        "fingerprint": item["fingerprint"],
        "status": status.value,
    }


async def test_a_resolution_from_another_source_leaves_the_open_run_alone(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    fingerprint = uuid.uuid4().hex[:16]
    firing, resolved = alertmanager_pair(fingerprint)
    key = problem_key(fingerprint)
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        assert (await gw.post_token(ALERTMANAGER, firing)).status_code == 202
        await gw.drained()
        forged = await gw.post_token(
            GENERIC, forged_generic(firing, AlertStatus.RESOLVED, f"{fingerprint}-x")
        )
        assert forged.json()["accepted"] == 1
        await gw.drained()
        (open_run,) = (await gw.gateway.outbox.remediations([key])).values()
        assert open_run.resolved_at is None
        assert await gw.gateway.outbox.note_counts() == {}

        assert (await gw.post_token(ALERTMANAGER, resolved)).status_code == 202
        await gw.drained()
        (closed,) = (await gw.gateway.outbox.remediations([key])).values()
        assert closed.resolved_at is not None
        assert await gw.gateway.outbox.note_counts() == {"pending": 1}


async def test_transitions_from_another_source_do_not_make_a_run_flapping(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    fingerprint = uuid.uuid4().hex[:16]
    firing, resolved = alertmanager_pair(fingerprint)
    key = problem_key(fingerprint)
    catalog = Catalog.model_validate({"gateway": {"flapping": {"transitions": 2, "window_s": 900}}})
    async with running_gateway(config(tmp_path, prefect_server), catalog) as gw:
        assert (await gw.post_token(ALERTMANAGER, firing)).status_code == 202
        await gw.drained()
        for index, status in enumerate([AlertStatus.RESOLVED, AlertStatus.FIRING]):
            body = forged_generic(firing, status, f"{fingerprint}-{index}")
            assert (await gw.post_token(GENERIC, body)).status_code == 202
            await gw.drained()
        (remediation,) = (await gw.gateway.outbox.remediations([key])).values()
        assert not remediation.flapping
        assert await gw.gateway.outbox.note_counts() == {}

        refired = json.loads(json.dumps(firing))
        refired["alerts"][0]["startsAt"] = "2026-11-27T14:40:00Z"
        for body in (resolved, refired):
            assert (await gw.post_token(ALERTMANAGER, body)).status_code == 202
            await gw.drained()
        (remediation,) = (await gw.gateway.outbox.remediations([key])).values()
        assert remediation.flapping
