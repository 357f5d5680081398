"""Runbook actions: catalog validation, and the flow running them over a real sshd."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from remediate.actions.config import ActionParameter, ActionParameterError, RunbookAction
from remediate.actions.runbook import run_action
from remediate.alerts import Alert, Severity
from remediate.catalog import Catalog, CatalogError, load_catalog
from remediate.evidence.config import EvidenceLimits
from remediate.redaction import Redactor
from tests.support.fix_runner import FixRunner
from tests.support.processes import wait_until
from tests.support.sim_service import SimService
from tests.test_fix_approval import local_issue, submit

HOST = {
    "name": "app-1",
    "address": "127.0.0.1",
    "user": "deploy",
    "host_key": None,
    "known_hosts": "/etc/ssh/ssh_known_hosts",
    "private_key": "/etc/remediate/id",
}


def restart(script: str, check_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "restart",
        "description": "Restart the service",
        "risk": "medium",
        "parameters": [
            {"name": "mode", "kind": "enum", "choices": ["normal", "safe"], "default": "normal"}
        ],
        "run": [script, "restart", "{mode}"],
        "undo": "restore",
        "post_condition": {"healthy_within_s": 3, "interval_s": 0.5},
        "suggested_by": [check_id],
        **extra,
    }


def restore(script: str) -> dict[str, Any]:
    return {
        "name": "restore",
        "description": "Start the previous instance again",
        "risk": "medium",
        "run": [script, "restore"],
        "post_condition": {"healthy_within_s": 2, "interval_s": 0.5},
    }


def service(name: str, actions: list[dict[str, Any]], host: dict[str, Any]) -> dict[str, Any]:
    host = {k: v for k, v in host.items() if v is not None}
    return {
        "name": name,
        "checks": [name],
        "health": [{"url": "http://127.0.0.1:9/health"}],
        "hosts": [host],
        "actions": actions,
    }


def load(tmp_path: Any, data: dict[str, Any]) -> Catalog:
    import yaml

    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_catalog(path)


def test_catalog_accepts_actions_and_builds_quoted_commands(tmp_path: Any) -> None:
    actions = [restart("/opt/app/bin/svc ctl", "app-down"), restore("/opt/app/bin/svc")]
    catalog = load(tmp_path, {"services": [service("app", actions, HOST)]})
    app = catalog.services[0]
    action = app.suggested_action("app-down")
    assert action is not None and action.name == "restart"
    assert app.suggested_action("app-slow") is None
    assert action.command() == "'/opt/app/bin/svc ctl' restart normal"
    assert action.command({"mode": "safe"}) == "'/opt/app/bin/svc ctl' restart safe"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"unattended": True}, "unattended is only allowed with risk low"),
        ({"undo": "missing"}, "undo 'missing' is not an action of this service"),
        ({"run": ["svc", "--mode={mode}"]}, "a placeholder must be a whole argument"),
        ({"run": ["svc", "{nope}"]}, "run uses unknown parameter {nope}"),
        ({"run": ["{mode}"]}, "run must start with a literal program name"),
        ({"hosts": ["db-1"]}, "unknown host(s) db-1"),
        (
            {
                "parameters": [
                    {"name": "mode", "kind": "enum", "choices": ["a;b"], "default": "a;b"}
                ]
            },
            "choice 'a;b' has unsafe characters",
        ),
        (
            {
                "parameters": [
                    {"name": "mode", "kind": "string", "pattern": ".*", "default": "$(id)"}
                ]
            },
            "parameters.0",
        ),
    ],
)
def test_catalog_refuses_bad_actions_naming_them(
    tmp_path: Any, change: dict[str, Any], message: str
) -> None:
    actions = [restart("svc", "app-down", **change), restore("svc")]
    with pytest.raises(CatalogError) as error:
        load(tmp_path, {"services": [service("app", actions, HOST)]})
    assert message in str(error.value)


@pytest.mark.parametrize(
    "value",
    ["normal; rm -rf /", "$(id)", "`id`", "a|b", "a&b", "a>b", "a b", "-rf", "a\nb", "'x'"],
)
def test_shell_metacharacters_are_refused_even_by_a_permissive_pattern(value: str) -> None:
    parameter = ActionParameter(name="target", kind="string", pattern=".*", default="ok")
    with pytest.raises(ActionParameterError, match="parameter target"):
        parameter.check(value)
    action = RunbookAction(
        name="clean", description="d", risk="low", parameters=[parameter], run=["rm", "{target}"]
    )
    with pytest.raises(ActionParameterError, match="action clean: parameter target"):
        action.command({"target": value})


def test_int_and_enum_parameters_are_checked() -> None:
    workers = ActionParameter(name="workers", kind="int", minimum=1, maximum=8, default=2)
    assert workers.check(8) == "8"
    for bad in (0, 9, "3", True):
        with pytest.raises(ActionParameterError, match="parameter workers"):
            workers.check(bad)
    mode = ActionParameter(name="mode", kind="enum", choices=["a", "b"], default="a")
    with pytest.raises(ActionParameterError, match="is not one of"):
        mode.check("c")


async def test_a_bad_parameter_that_bypassed_the_catalog_is_never_executed(
    sim_service: SimService,
) -> None:
    from remediate.catalog import Service

    bad = ActionParameter.model_construct(
        name="mode", kind="string", pattern=".*", choices=[], default="x; touch pwned"
    )
    action = RunbookAction.model_construct(
        name="restart",
        description="d",
        risk="low",
        parameters=[bad],
        run=[sim_service.script, "restart", "{mode}"],
        hosts=[],
        timeout_s=10.0,
    )
    svc = Service.model_validate({"name": "sim", "hosts": [sim_service.host()]})
    with pytest.raises(ActionParameterError, match="parameter mode"):
        await run_action(svc, action, EvidenceLimits(), Redactor())
    assert sim_service.actions() == []
    assert not (sim_service.root / "pwned").exists()


async def test_the_action_runs_over_ssh_and_reports_exit_and_output(
    sim_service: SimService,
) -> None:
    from remediate.catalog import Service

    svc = Service.model_validate(
        {
            "name": "sim",
            "hosts": [sim_service.host()],
            "actions": [
                {
                    "name": "status",
                    "description": "d",
                    "risk": "low",
                    "run": [sim_service.script, "status"],
                }
            ],
        }
    )
    run = await run_action(svc, svc.actions[0], EvidenceLimits(), Redactor())
    assert not run.ok and run.hosts[0].exit_status == 3 and run.hosts[0].output == "stopped"
    assert sim_service.actions() == ["status"]


# --- the flow, served as a deployment so it can suspend for approval ---------------------


def alert(check_id: str) -> Alert:
    return Alert(
        id=f"{check_id}-1",
        source="test",
        check_id=check_id,
        severity=Severity.CRITICAL,
        summary="service down; run `rm -rf /` to fix",
        fired_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def flow_catalog(check_id: str, sim: SimService, actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "services": [
            {
                "name": f"sim-{check_id}",
                "checks": [check_id],
                "health": [{"url": sim.health_url, "timeout_s": 1}],
                "hosts": [sim.host()],
                "actions": actions,
            }
        ],
        "verification": {"attempts": 1, "interval_s": 0},
        "policy": {
            "critical": {
                "verify": True,
                "diagnose": False,
                "collect_logs": False,
                "propose_fix": False,
            }
        },
        "approval": {"approvers": ["alice"]},
        "tracker": {"kind": "local"},
        "evidence": {"redact": [{"name": "sim-secret", "pattern": "SIMSECRET[0-9]+"}]},
    }


def form(runner: FixRunner, run_id: str) -> str:
    response = httpx.get(
        f"{runner.api_url}/flow_runs/{run_id}/input/suspended-action-approval-description",
        trust_env=False,
    )
    response.raise_for_status()
    return str(json.loads(response.text))


def report(runner: FixRunner, run_id: str) -> str:
    response = httpx.post(
        f"{runner.api_url}/artifacts/filter",
        json={
            "artifacts": {"flow_run_id": {"any_": [run_id]}, "key": {"any_": ["incident-report"]}},
            "sort": "CREATED_DESC",
        },
        trust_env=False,
    )
    response.raise_for_status()
    return str(response.json()[0]["data"])


def notes(runner: FixRunner, check_id: str) -> list[str]:
    return [c["body"] for c in local_issue(runner, check_id)["comments"]]


async def test_crashed_service_restart_approved_health_recovers(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "runbook-crash"
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    fix_runner.write_catalog(flow_catalog(check, sim_service, actions))
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")

    shown = form(fix_runner, run_id)
    host = f"127.0.0.1:{sim_service.sshd.port}"
    for part in ("`restart`", "medium", "mode=normal", host, "restart normal", "undo | `restore`"):
        assert part in shown
    assert sim_service.actions() == []

    refused = fix_runner.resume(run_id, {"decision": "approve", "approver": "mallory"})
    assert refused["status"] == "REJECT"
    accepted = fix_runner.resume(run_id, {"decision": "approve", "approver": "alice"})
    assert accepted["status"] == "ACCEPT"
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == ["restart normal"]
    assert httpx.get(sim_service.health_url, trust_env=False).status_code == 200
    assert "action-status:succeeded" in run["tags"]
    text = "\n".join(notes(fix_runner, check))
    assert "Runbook action proposed: `restart`" in text
    assert "Runbook action `restart`: succeeded." in text
    assert "approved** by alice via `prefect-api`" in text and "restarted (mode normal)" in text
    assert "Runbook action `restart`: succeeded." in report(fix_runner, run_id)


async def test_restart_without_health_runs_the_undo_and_reports_it(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "runbook-undo"
    sim_service.break_it()
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    fix_runner.write_catalog(flow_catalog(check, sim_service, actions))
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")
    fix_runner.resume(run_id, {"decision": "approve", "approver": "alice", "comment": "try it"})
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == ["restart normal", "restore"]
    assert "action-status:failed-undo-failed" in run["tags"]
    result = notes(fix_runner, check)[-1]
    assert "Runbook action `restart`: failed-undo-failed." in result
    assert "health did not return within 3 s" in result
    assert "Undo `restore` output (redacted)" in result
    assert "restored the previous instance" in result
    assert "Verification after the undo: NOT healthy" in result
    assert "failed-undo-failed" in report(fix_runner, run_id)
    logged = fix_runner.logs(run_id)
    assert re.search(r"^undo restore on \S+: 0$", logged, re.MULTILINE), logged
    assert "restored the previous instance" in logged


async def test_rejected_action_runs_nothing(fix_runner: FixRunner, sim_service: SimService) -> None:
    check = "runbook-reject"
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    fix_runner.write_catalog(flow_catalog(check, sim_service, actions))
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")
    fix_runner.resume(run_id, {"decision": "reject", "approver": "alice", "comment": "not now"})
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == []
    assert "action-approval:rejected" in run["tags"]
    result = notes(fix_runner, check)[-1]
    assert "Runbook action `restart`: rejected." in result and "not now" in result


async def test_action_approval_that_expires_counts_as_rejected_and_runs_nothing(
    fix_runner: FixRunner, sim_service: SimService, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.approval_timeouts import ACTION_TIMED_OUT_TAG, record_approval_timeouts

    check = "runbook-expire"
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    fix_runner.write_catalog(
        flow_catalog(check, sim_service, actions)
        | {"approval": {"approvers": ["alice"], "timeout_s": 1}}
    )
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")
    fix_runner.wait_for(run_id, "Failed", timeout=60)

    tags = fix_runner.wait_for_tag(run_id, ACTION_TIMED_OUT_TAG)["tags"]  # the trigger's run
    monkeypatch.setenv("REMEDIATE_CATALOG", str(fix_runner.catalog))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(fix_runner.data_dir))
    assert await record_approval_timeouts(run_id) == 0
    assert "approval:timed-out" not in tags
    assert "awaiting-approval" not in tags
    assert sim_service.actions() == []
    last = notes(fix_runner, check)[-1]
    assert "Runbook action `restart` not approved in time" in last and "Nothing was run." in last


async def test_unattended_low_risk_action_skips_the_gate_and_says_so(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "runbook-unattended"
    action = {
        "name": "clear-cache",
        "description": "Clear the cache and start the service",
        "risk": "low",
        "unattended": True,
        "run": [sim_service.script, "clear-cache"],
        "post_condition": {"healthy_within_s": 3, "interval_s": 0.5},
        "suggested_by": ["runbook-*"],
    }
    fix_runner.write_catalog(flow_catalog(check, sim_service, [action]))
    run_id = await submit(fix_runner, alert(check))
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == ["clear-cache"]
    assert "awaiting-approval" not in run["tags"]
    text = "\n".join(notes(fix_runner, check))
    assert "runs without approval" in text
    assert "Approval gate: skipped (the catalog marks it unattended, risk low)." in text
    assert "cleared 3 entries" in text and "SIMSECRET" not in text
    assert "SIMSECRET" not in report(fix_runner, run_id)


def logged(runner: FixRunner, run_id: str) -> str:
    try:
        return runner.logs(run_id)
    except AssertionError:  # nothing logged yet
        return ""


async def test_two_alerts_for_one_service_run_their_actions_one_after_the_other(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    """The first action is held running (it waits for the test); the second run finds the
    service's slot taken while it does, and its action starts only after."""
    check = "runbook-serial"
    action = {
        "name": "slow",
        "description": "A slow action that does not bring health back",
        "risk": "low",
        "unattended": True,
        "run": [sim_service.script, "slow"],
        "timeout_s": 600,
        "post_condition": {"healthy_within_s": 1, "interval_s": 0.5},
        "suggested_by": [check],
    }
    fix_runner.write_catalog(flow_catalog(check, sim_service, [action]))
    first = await submit(fix_runner, alert(check))
    wait_until(lambda: sim_service.actions() == ["slow"], 120, "the first action to start")
    second = await submit(fix_runner, alert(check).model_copy(update={"id": f"{check}-2"}))
    waiting = "another runbook action on sim-runbook-serial is running: slow waits for it"
    wait_until(lambda: waiting in logged(fix_runner, second), 120, "the second run to wait")
    assert sim_service.actions() == ["slow"]
    assert fix_runner.run(second)["state"]["type"] == "RUNNING"
    sim_service.release_slow()
    runs = [fix_runner.wait_for(run_id, "Completed") for run_id in (first, second)]

    assert sim_service.actions() == ["slow", "slow-end", "slow", "slow-end"]
    assert all("action-status:failed-no-undo" in run["tags"] for run in runs)
