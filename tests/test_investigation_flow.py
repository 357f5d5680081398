"""The investigation stage in the remediation flow: the real Prefect server, sshd, Claude
Code CLI and scripted model; the issue, the artifact and the action stage it feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.remediate_alert import remediate_alert
from remediate.actions.models import ActionStatus
from remediate.alerts import Alert
from remediate.approval.cli import approve_main
from remediate.investigation.models import InvestigationStatus
from remediate.reporting.history import History, RunRecord
from remediate.reporting.metrics import compute, investigation_figures
from remediate.trackers import LocalTracker
from tests.support.fix_runner import FixRunner
from tests.support.model_server import ModelServer, Turn, text, tool
from tests.support.sim_service import SimService
from tests.support.sshd import SSHServer
from tests.test_evidence_flow import artifacts_of, ssh_host
from tests.test_fix_approval import submit
from tests.test_runbook_actions import alert as sim_alert
from tests.test_runbook_actions import flow_catalog, form, notes, restart, restore

RUN = "mcp__investigate__run_command"
SUBMIT = "mcp__investigate__submit_investigation"
DF = "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/sda1 1000 1000 0 100% /var\n"


@pytest.fixture
def flow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: str) -> Path:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_must_never_reach_the_model")
    return tmp_path


def write_catalog(where: Path, sshd: SSHServer, refused_url: str) -> None:
    df = sshd.write_file("flow-df.txt", DF)
    marker = sshd.root / "cleaned"
    service: dict[str, Any] = {
        "name": "api",
        "checks": ["S1-*"],
        "health": [{"url": refused_url, "timeout_s": 1}],
        "hosts": [ssh_host(sshd, "web-1", sshd.ports[0])],
        "logs": [{"name": "app", "kind": "container", "container": "api-flow"}],
        "actions": [
            {
                "name": "clean-tmp",
                "description": "remove old temporary files",
                "risk": "low",
                "unattended": True,
                "run": ["touch", str(marker)],
            }
        ],
    }
    catalog = {
        "services": [service],
        "policy": {"critical": {"propose_fix": False}},
        "verification": {"attempts": 1, "interval_s": 0},
        "evidence": {
            "limits": {"connect_timeout_s": 5, "command_timeout_s": 5},
            "commands": {"disk-usage": ["cat", str(df)]},
        },
        "investigation": {"max_turns": 6},
    }
    (where / "catalog.yaml").write_text(yaml.safe_dump(catalog))


def make_alert() -> Alert:
    return Alert.from_sentinel(
        {
            "check_id": "S1-disk",
            "timestamp": "2026-11-27T15:00:00",
            "status": "fail",
            "message": "write errors on api",
        }
    )


def conclusion(quote: str) -> dict[str, Any]:
    return tool(
        SUBMIT,
        summary="/var is full on web-1",
        hypotheses=[
            {
                "statement": "the /var filesystem is full",
                "confidence": 0.9,
                "quotes": [{"source": "call-1", "text": quote}],
                "action": "clean-tmp",
            }
        ],
        next_step={"kind": "action", "action": "clean-tmp", "description": "free space"},
    )


async def test_disk_full_conclusion_reaches_the_issue_and_proposes_the_action_behind_the_gate(
    flow_env: Path,
    sshd: SSHServer,
    refused_url: str,
    model_server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-model-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)
    sshd.write_container_log("api-flow", "ERROR write /var/data: No space left on device\n")
    write_catalog(flow_env, sshd, refused_url)
    model_server.play(
        Turn([tool(RUN, host="web-1", command="disk-usage")]),
        Turn([conclusion("/dev/sda1 1000 1000 0 100% /var")]),
        Turn([text("submitted")]),
    )

    outcome = await remediate_alert(make_alert())

    assert outcome.investigation is not None
    assert outcome.investigation.status is InvestigationStatus.COMPLETED
    [issue] = LocalTracker(flow_env / "data" / "issues").issues()
    [comment] = [c.body for c in issue.comments if c.key.endswith(":investigation")]
    assert "## Investigation" in comment
    assert "/var is full on web-1" in comment
    assert "**Hypothesis 1:** the /var filesystem is full (confidence 0.90, supported)" in comment
    assert "found in call-1: /dev/sda1 1000 1000 0 100% /var" in comment
    assert outcome.action is not None
    assert outcome.action.proposal.action == "clean-tmp"
    assert outcome.action.status is ActionStatus.NOT_RUN and outcome.action.gate == "unavailable"
    assert not (sshd.root / "cleaned").exists()
    assert outcome.flow_run_id is not None
    artifact = next(a for a in artifacts_of(outcome.flow_run_id) if a["key"] == "investigation")
    assert '"tool": "run_command"' in artifact["data"]
    assert "100% /var" in artifact["data"]

    until = datetime.now(UTC) + timedelta(seconds=1)
    async with History(prefect_server) as history:
        records = [r for r in await history.records(since, until) if r.id == outcome.flow_run_id]
    figures = {f.key: f for f in compute(records, since, until).figures}
    assert figures["investigations"].value == figures["investigations_completed"].value == 1
    assert figures["investigation_cost"].value == pytest.approx(outcome.investigation.cost_usd)
    assert figures["investigation_cost"].value > 0
    assert figures["investigation_action_approved"].value == 0
    assert figures["investigation_action_approved"].note.startswith("of 1 runs")


def record(*tags: str) -> RunRecord:
    return RunRecord(id="r", created=datetime.now(UTC), state_type="COMPLETED", tags=list(tags))


def test_an_investigation_action_counts_as_approved_only_when_that_action_was_approved() -> None:
    records = [
        record(
            "investigation:completed",
            "investigation-action:clean-tmp",
            "action:clean-tmp",
            "action-approval:approved",
            "investigation-cost-usd:0.25",
        ),
        record(
            "investigation:completed",
            "investigation-action:clean-tmp",
            "action:restart",
            "action-approval:approved",
            "investigation-cost-usd:0.5",
        ),
        record(
            "investigation:completed",
            "investigation-action:clean-tmp",
            "action:clean-tmp",
            "action-approval:rejected",
        ),
        record("investigation:failed"),
        record("investigation:skipped"),
    ]
    figures = {f.key: f.value for f in investigation_figures(records)}
    assert figures == {
        "investigations": 4,
        "investigations_completed": 3,
        "investigation_cost": 0.75,
        "investigation_action_approved": 1,
        "investigations_judged_right": 0,
        "investigations_judged_wrong": 0,
    }


def test_approvers_judgements_of_the_leading_hypothesis_are_counted() -> None:
    records = [
        record("investigation:completed", "investigation-judged:wrong"),
        record("investigation:completed", "investigation-judged:right"),
        record("investigation:completed", "investigation-judged:wrong"),
        record("investigation:completed"),
    ]
    figures = {f.key: f for f in investigation_figures(records)}
    assert figures["investigations_judged_wrong"].value == 2
    assert figures["investigations_judged_right"].value == 1
    assert figures["investigations_judged_wrong"].note == (
        "leading hypothesis marked wrong on an approval form"
    )


async def test_an_unsupported_conclusion_proposes_nothing_and_the_issue_says_so(
    flow_env: Path,
    sshd: SSHServer,
    refused_url: str,
    model_server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-model-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)
    write_catalog(flow_env, sshd, refused_url)
    model_server.play(
        Turn([tool(RUN, host="web-1", command="disk-usage")]),
        Turn([conclusion("/dev/sda1 1000 1000 0 99% /var")]),
        Turn([text("submitted")]),
    )

    outcome = await remediate_alert(make_alert())

    [issue] = LocalTracker(flow_env / "data" / "issues").issues()
    [comment] = [c.body for c in issue.comments if c.key.endswith(":investigation")]
    assert "1 of 1 hypotheses cite text that is not in the recorded evidence" in comment
    assert "NOT FOUND in call-1" in comment
    assert outcome.action is None


async def test_without_credential_the_issue_says_why_the_investigation_was_skipped(
    flow_env: Path, sshd: SSHServer, refused_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    write_catalog(flow_env, sshd, refused_url)

    outcome = await remediate_alert(make_alert())

    assert outcome.investigation is not None
    assert outcome.investigation.status is InvestigationStatus.SKIPPED
    [issue] = LocalTracker(flow_env / "data" / "issues").issues()
    assert (
        "Skipped: no model credential (environment variable ANTHROPIC\\_API\\_KEY not set)."
        in issue.body
    )
    assert not [c for c in issue.comments if c.key.endswith(":investigation")]
    assert outcome.action is None


@pytest.mark.timeout(600)  # starts the served deployment when it runs first
async def test_the_models_parameters_reach_the_form_and_the_approver_marks_the_hypothesis_wrong(
    fix_runner: FixRunner, sim_service: SimService, prefect_server: str
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    check = "investigated-restart"
    catalog = flow_catalog(
        check,
        sim_service,
        [restart(sim_service.script, "no-such-check"), restore(sim_service.script)],
    )
    catalog["evidence"]["commands"] = {"svc-status": [sim_service.script, "status"]}
    catalog["investigation"] = {"max_turns": 6}
    fix_runner.write_catalog(catalog)
    fix_runner.model.play(
        Turn([tool(RUN, host="app-1", command="svc-status")]),
        Turn(
            [
                tool(
                    SUBMIT,
                    summary="the service process is not running",
                    hypotheses=[
                        {
                            "statement": "the service crashed and stayed down",
                            "confidence": 0.8,
                            "quotes": [{"source": "call-1", "text": "custom svc-status (exit 3)"}],
                        }
                    ],
                    next_step={
                        "kind": "action",
                        "action": "restart",
                        "parameters": {"mode": "safe"},
                        "description": "start it in safe mode",
                    },
                )
            ]
        ),
        Turn([text("submitted")]),
    )
    run_id = await submit(fix_runner, sim_alert(check))
    fix_runner.wait_for(run_id, "Suspended")

    shown = form(fix_runner, run_id)
    assert "mode=safe" in shown and "restart safe" in shown
    assert "parameter values from the model: mode=safe" in shown
    assert "The investigation's leading hypothesis" in shown
    assert "the service crashed and stayed down (confidence 0.80, supported)" in shown
    assert sim_service.actions() == ["status"]

    bad = fix_runner.resume(
        run_id, {"decision": "approve", "approver": "alice", "hypothesis": "maybe"}
    )
    assert bad["status"] == "REJECT"
    why = "it was stopped by a deploy, it did not crash"
    approve = [run_id, "--approver", "alice", "--api-url", fix_runner.api_url]
    assert approve_main([*approve, "--hypothesis", "wrong", "--hypothesis-reason", why]) == 0
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == ["status", "restart safe"]
    assert "investigation-judged:wrong" in run["tags"]
    assert "investigation-action:restart" in run["tags"]
    text_ = "\n".join(notes(fix_runner, check))
    assert "**Investigation judged wrong** by alice at the action approval." in text_
    assert "Leading hypothesis: the service crashed and stayed down" in text_
    assert "Why: it was stopped by a deploy, it did not crash" in text_
    assert "judged wrong by alice at the action approval" in fix_runner.logs(run_id)

    until = datetime.now(UTC) + timedelta(seconds=1)
    async with History(prefect_server) as history:
        records = [r for r in await history.records(since, until) if r.id == run_id]
    figures = {f.key: f.value for f in compute(records, since, until).figures}
    assert figures["investigations_judged_wrong"] == 1
    assert figures["investigations_judged_right"] == 0
    assert figures["investigation_action_approved"] == 1
