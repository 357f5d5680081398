"""The remediation report computed from history made by running the real flow."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.remediate_alert import remediate_alert
from flows.report import remediation_report
from remediate.alerts import Alert, Severity
from remediate.approval.cli import approve_main
from remediate.incident.models import OutcomeStatus
from remediate.reporting.cli import report_main
from remediate.reporting.history import History
from remediate.reporting.metrics import RemediationReport, compute, percentile
from remediate.reporting.period import parse_window
from remediate.reporting.render import terminal_table
from remediate.runs.api import PrefectAPI
from tests.support.fix_runner import FixRunner
from tests.support.http_services import Service
from tests.support.sim_service import SimService


@pytest.fixture
def stack_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> Iterator[Path]:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path


FIRST_FIRED = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def alert(check: str, minute: int) -> Alert:
    fired = FIRST_FIRED + timedelta(minutes=minute)
    return Alert.from_sentinel(
        {
            "check_id": check,
            "timestamp": fired.replace(tzinfo=None).isoformat(),
            "status": "fail",
            "message": "Unexpected status: HTTP 500",
        }
    )


def write_catalog(where: Path, failing: Service, healthy: Service) -> None:
    catalog = {
        "services": [
            {
                "name": "report-api",
                "checks": ["RPT-api-*"],
                "health": [{"url": failing.health_url}],
            },
            {"name": "report-web", "checks": ["RPT-web"], "health": [{"url": healthy.health_url}]},
        ],
        "verification": {"attempts": 2, "interval_s": 0.05},
    }
    (where / "catalog.yaml").write_text(yaml.safe_dump(catalog))


async def history_report(api_url: str, since: datetime) -> RemediationReport:
    until = datetime.now(UTC) + timedelta(seconds=1)
    async with History(api_url) as history:
        records = await history.records(since, until)
    return compute(records, since, until)


async def test_figures_match_the_history_the_flow_made(
    stack_env: Path, prefect_server: str, http_service: Service, another_http_service: Service
) -> None:
    http_service.set(status=500)
    write_catalog(stack_env, http_service, another_http_service)
    since = datetime.now(UTC) - timedelta(seconds=1)

    durations: list[float] = []
    fired_to_end: list[tuple[float, float]] = []
    outcomes = []
    for an_alert in [
        alert("RPT-api-probes", 0),
        alert("RPT-api-probes", 5),
        alert("RPT-api-latency", 7),
        alert("RPT-web", 1),
        alert("RPT-web", 9),
    ]:
        started = time.monotonic()
        began = datetime.now(UTC)
        outcomes.append(await remediate_alert(an_alert))
        durations.append(time.monotonic() - started)
        ended = datetime.now(UTC)
        fired_to_end.append(
            (
                (began - an_alert.fired_at).total_seconds(),
                (ended - an_alert.fired_at).total_seconds(),
            )
        )
    statuses = [o.status for o in outcomes]
    assert statuses == [
        OutcomeStatus.ISSUE_OPENED,
        OutcomeStatus.ISSUE_UPDATED,
        OutcomeStatus.ISSUE_OPENED,
        OutcomeStatus.SELF_RESOLVED,
        OutcomeStatus.SELF_RESOLVED,
    ]
    # The gateway merged two more deliveries of the first alert into its run.
    first_run = outcomes[0].flow_run_id
    assert first_run is not None
    async with PrefectAPI(prefect_server) as api:
        await api.set_occurrence_tags(first_run, 3, resolved=False)

    report = await history_report(prefect_server, since)
    value = {f.key: f.value for f in report.figures}
    assert value["runs"] == 5
    assert value["received"] == 7
    assert value["deduplicated"] == 2
    assert value["self_resolved"] == 2
    assert value["false_positive_rate"] == 40.0
    assert value["verified"] == 3
    assert value["unverifiable"] == 0
    assert value["issues"] == 3
    assert value["fix_sessions"] == 0
    assert value["proposals"] == 0
    assert value["approved"] == value["rejected"] == value["timed_out"] == 0
    assert value["approval_wait_p50"] is None
    assert value["approval_to_pr_p50"] is None
    assert value["actions_run"] == value["actions_undone"] == 0
    assert value["rolled_back"] is None and report.figure("rolled_back").met is None
    assert value["rollbacks"] == value["rollbacks_failed"] == 0
    assert value["coverage"] == 40.0
    assert report.figure("coverage").met is False

    assert len(report.alert_to_issue_s) == 3
    confirmed_durations = durations[:3]
    for seconds in report.alert_to_issue_s:
        assert 0 < seconds <= max(confirmed_durations) + 1
    assert value["alert_to_issue_p95"] == max(report.alert_to_issue_s)
    assert value["alert_to_issue_p50"] == sorted(report.alert_to_issue_s)[1]
    assert report.figure("alert_to_issue_p95").met is True
    # Fired 30, 25 and 23 minutes before their runs: the sender's delay counts there.
    assert len(report.fired_to_issue_s) == 3
    for seconds, (lowest, highest) in zip(report.fired_to_issue_s, fired_to_end[:3], strict=True):
        assert lowest <= seconds <= highest
    assert value["fired_to_issue_p95"] == max(report.fired_to_issue_s)
    assert report.figure("fired_to_issue_p95").met is False
    assert sum(d.runs for d in report.days) == 5
    assert sum(d.received for d in report.days) == 7

    table = terminal_table(report)
    assert "alerts received" in table and "no runbook action ran" in table
    assert "40 %" in table and "MISSED" in table


async def test_daily_flow_publishes_a_table_and_charts(
    stack_env: Path, http_service: Service, another_http_service: Service
) -> None:
    http_service.set(status=500)
    write_catalog(stack_env, http_service, another_http_service)
    await remediate_alert(alert("RPT-api-chart", 0))
    await remediate_alert(alert("RPT-web", 30))

    report = await remediation_report(window_hours=1)
    assert report.figure("runs").value is not None and report.figure("runs").value >= 2
    async with get_client() as client:
        tables = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["remediation-report-table"]))
        )
        markdowns = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["remediation-report"]))
        )
    assert tables and markdowns
    rows = json.loads(str(tables[-1].data))
    metrics = {r["metric"] for r in rows}
    assert {"alerts received", "alert->issue p95", "automated response coverage"} <= metrics
    text = str(markdowns[-1].data)
    assert text.count("data:image/png;base64,") >= 2
    assert "| alert->issue p95 |" in text
    assert "## Per day" in text and "| fixes proposed |" in text


def test_cli_prints_a_table_and_json(
    prefect_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_main(["--since", "2h"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Remediation report") and "automated response coverage" in out
    assert report_main(["--since", "2h", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {f["key"] for f in data["figures"]} >= {"received", "coverage", "rolled_back"}


def test_cli_rejects_a_bad_window(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main(["--since", "7x"]) == 2
    assert "--since: expected a positive duration" in capsys.readouterr().err
    assert parse_window("90m") == timedelta(minutes=90)
    assert parse_window("7d") == timedelta(days=7)
    with pytest.raises(ValueError, match="0d"):
        parse_window("0d")


def test_nearest_rank_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0
    assert percentile([5.0], 95) == 5.0


async def test_fix_figures_from_approved_and_rejected_runs(
    fix_runner: FixRunner, service_repo: Path
) -> None:
    from tests.test_fix_approval import READ_EDIT, submit

    checks = ["rptfix-approve", "rptfix-reject"]
    fix_runner.write_catalog(
        {
            "services": [
                {
                    "name": f"svc-{check}",
                    "checks": [check],
                    "repository": {"owner": "acme", "name": check, "clone_url": str(service_repo)},
                }
                for check in checks
            ],
            "policy": {"critical": {"verify": False, "diagnose": False}},
            "approval": {"approvers": ["alice"]},
            "tracker": {"kind": "local"},
        }
    )
    since = datetime.now(UTC) - timedelta(seconds=1)
    started = time.monotonic()
    for check, decision in zip(checks, [[], ["--reject"]], strict=True):
        fix_runner.model.play(*READ_EDIT)
        run_id = await submit(fix_runner, fix_alert(check))
        fix_runner.wait_for(run_id, "Suspended")
        approve = [run_id, "--approver", "alice", "--api-url", fix_runner.api_url, *decision]
        if not decision:
            approve += ["--diff-sha256", fix_runner.shown_sha256(run_id)]
        assert approve_main(approve) == 0
        fix_runner.wait_for(run_id, "Completed")
    elapsed = time.monotonic() - started

    report = await history_report(fix_runner.api_url, since)
    value = {f.key: f.value for f in report.figures}
    assert value["runs"] == 2 and value["issues"] == 2
    assert value["fix_sessions"] == 2
    assert value["proposals"] == 2 and value["sent_for_approval"] == 2
    assert value["approved"] == 1 and value["rejected"] == 1 and value["timed_out"] == 0
    assert value["awaiting"] == 0
    assert value["pull_requests"] == 1
    assert value["coverage"] == 100.0 and report.figure("coverage").met is True
    assert value["verified"] is None and value["self_resolved"] == 0
    assert len(report.fix_generation_s) == 2
    assert all(0 < s < elapsed for s in report.fix_generation_s)
    for key in ("approval_wait_p50", "approval_to_pr_p50", "fix_generation_p95"):
        seconds = value[key]
        assert seconds is not None and 0 < seconds < elapsed


async def test_action_figures_from_runs_that_ran_and_undid_actions(
    stack_env: Path, prefect_server: str, sim_service: SimService
) -> None:
    def unattended(name: str, run: list[str], check: str, **extra: object) -> dict[str, object]:
        return {
            "name": name,
            "description": name,
            "risk": "low",
            "unattended": True,
            "run": [sim_service.script, *run],
            "post_condition": {"healthy_within_s": 2, "interval_s": 0.5},
            "suggested_by": [check],
            **extra,
        }

    catalog = {
        "services": [
            {
                "name": f"report-sim-{check}",
                "checks": [f"RPT-sim-{check}"],
                "health": [{"url": sim_service.health_url, "timeout_s": 1}],
                "hosts": [sim_service.host()],
                "actions": actions,
            }
            for check, actions in [
                ("cache", [unattended("clear-cache", ["clear-cache"], "RPT-sim-cache")]),
                (
                    "restart",
                    [
                        unattended(
                            "restart", ["restart", "normal"], "RPT-sim-restart", undo="undo"
                        ),
                        unattended("undo", ["restore"], "RPT-sim-never"),
                    ],
                ),
            ]
        ],
        "verification": {"attempts": 1, "interval_s": 0},
        "policy": {"critical": {"propose_fix": False, "diagnose": False}},
        "tracker": {"kind": "local"},
    }
    (stack_env / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    since = datetime.now(UTC) - timedelta(seconds=1)
    await remediate_alert(alert("RPT-sim-cache", 0))
    sim_service.break_it()
    await remediate_alert(alert("RPT-sim-restart", 1))
    assert sim_service.actions() == ["clear-cache", "restart normal", "restore"]

    report = await history_report(prefect_server, since)
    value = {f.key: f.value for f in report.figures}
    assert value["runs"] == 2
    assert value["actions_run"] == 2 and value["actions_undone"] == 1
    assert value["rolled_back"] == 50.0 and report.figure("rolled_back").met is False
    assert value["rollbacks"] == value["rollbacks_failed"] == 0


def fix_alert(check_id: str) -> Alert:
    return Alert(
        id=f"{check_id}-{int(time.time())}",
        source="test",
        check_id=check_id,
        severity=Severity.CRITICAL,
        summary="timeouts",
        fired_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_approved_fixes_not_published_are_counted() -> None:
    from remediate.reporting.history import RunRecord
    from remediate.reporting.metrics import compute

    now = datetime.now(UTC)

    def run(n: int, *tags: str) -> RunRecord:
        return RunRecord(
            id=str(n), created=now, state_type="FAILED", tags=list(tags), approval="approved"
        )

    records = [run(1, "publish:failed"), run(2, "publish:published"), run(3)]
    report = compute(records, now - timedelta(days=1), now)
    assert report.figure("not_published").value == 1
    assert report.figure("approved").value == 3
