"""The remediation flow run in-process against the real test Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from flows.remediate_alert import remediate_alert
from remediate.alerts import Alert
from remediate.diagnosis.models import ProbeFailure, Verdict
from remediate.incident.models import OutcomeStatus
from remediate.trackers import LocalTracker
from tests.support.http_services import Service


@pytest.fixture
def stack_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> Iterator[Path]:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path


def write_catalog(where: Path, services: list[dict[str, object]], **extra: object) -> None:
    catalog = {"services": services, "verification": {"attempts": 3, "interval_s": 0.05}}
    (where / "catalog.yaml").write_text(yaml.safe_dump(catalog | extra))


def alert(check: str = "S1-probes", occurrence: int = 0) -> Alert:
    return Alert.from_sentinel(
        {
            "check_id": check,
            "timestamp": f"2026-11-27T14:{occurrence:02d}:00",
            "status": "fail",
            "message": "Unexpected status: HTTP 500",
        }
    )


def service(name: str, url: str, checks: list[str], timeout: float = 2) -> dict[str, object]:
    return {"name": name, "checks": checks, "health": [{"url": url, "timeout_s": timeout}]}


async def test_confirmed_alert_opens_issue_then_comments(
    stack_env: Path, http_service: Service, another_http_service: Service, refused_url: str
) -> None:
    http_service.set(status=500)
    write_catalog(
        stack_env,
        [
            service("api", http_service.health_url, ["S1-*"]),
            service("cache", another_http_service.health_url, []),
            service("db", refused_url, []),
        ],
    )
    first = await remediate_alert(alert())
    assert first.status is OutcomeStatus.ISSUE_OPENED
    assert first.service == "api"
    assert first.verification is not None
    assert first.verification.verdict is Verdict.CONFIRMED
    assert first.verification.last_probes[0].status_code == 500
    assert first.diagnosis is not None
    assert sorted(first.diagnosis.failing) == ["api", "db"]
    db = next(s for s in first.diagnosis.services if s.service == "db")
    assert db.probes[0].failure is ProbeFailure.CONNECT
    assert first.issue is not None and first.issue.number == 1

    second = await remediate_alert(alert(occurrence=5))
    assert second.status is OutcomeStatus.ISSUE_UPDATED
    assert second.issue is not None and second.issue.number == 1
    issues = LocalTracker(stack_env / "data" / "issues").issues()
    assert len(issues) == 1
    assert [c.body.startswith("Fired again") for c in issues[0].comments].count(True) == 1
    assert "service:api" in issues[0].labels
    body = issues[0].body
    assert "confirmed" in body and "upstream database unavailable" in body
    assert "/runs/flow-run/" in body


async def test_recovered_service_self_resolves_without_issue(
    stack_env: Path, http_service: Service
) -> None:
    write_catalog(stack_env, [service("api", http_service.health_url, ["S1-probes"])])
    outcome = await remediate_alert(alert())
    assert outcome.status is OutcomeStatus.SELF_RESOLVED
    assert outcome.verification is not None
    assert len(outcome.verification.attempts) == 3
    assert outcome.issue is None
    assert LocalTracker(stack_env / "data" / "issues").issues() == []


async def test_slow_endpoint_times_out_and_is_confirmed(
    stack_env: Path, http_service: Service
) -> None:
    http_service.set(delay=1.0)
    write_catalog(stack_env, [service("api", http_service.health_url, ["S1-probes"], 0.2)])
    outcome = await remediate_alert(alert())
    assert outcome.verification is not None
    assert outcome.verification.verdict is Verdict.CONFIRMED
    assert outcome.verification.last_probes[0].failure is ProbeFailure.TIMEOUT


async def test_unknown_check_is_unverifiable_but_recorded(stack_env: Path) -> None:
    write_catalog(stack_env, [])
    outcome = await remediate_alert(alert(check="S9-unknown"))
    assert outcome.verification is not None
    assert outcome.verification.verdict is Verdict.UNVERIFIABLE
    assert outcome.status is OutcomeStatus.ISSUE_OPENED
    issue = LocalTracker(stack_env / "data" / "issues").get(1)
    assert "not in catalog" in issue.body


async def test_policy_can_skip_steps(stack_env: Path, http_service: Service) -> None:
    http_service.set(status=503)
    write_catalog(
        stack_env,
        [service("api", http_service.health_url, ["S1-probes"])],
        policy={"critical": {"verify": True, "diagnose": False, "open_issue": False}},
    )
    outcome = await remediate_alert(alert())
    assert outcome.status is OutcomeStatus.RECORDED
    assert outcome.diagnosis is None and outcome.issue is None


async def test_a_service_without_health_endpoints_is_unverifiable_and_never_self_resolves(
    stack_env: Path,
) -> None:
    write_catalog(stack_env, [{"name": "batch", "checks": ["S1-probes"]}])
    outcome = await remediate_alert(alert())
    assert outcome.service == "batch"
    assert outcome.verification is not None
    assert outcome.verification.verdict is Verdict.UNVERIFIABLE
    assert outcome.verification.reason == ("service batch has no health endpoints in the catalog")
    assert outcome.verification.attempts == []
    assert outcome.status is OutcomeStatus.ISSUE_OPENED
    assert outcome.diagnosis is not None
    assert outcome.diagnosis.services == [] and outcome.diagnosis.failing == []
    issue = LocalTracker(stack_env / "data" / "issues").get(1)
    assert "service:batch" in issue.labels
    assert "no health endpoints" in issue.body
