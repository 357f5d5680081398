"""An alert resolved while its run is in progress: the run sees it before the approval gate
and before a runbook action.

Each run is held at its verification probe (an endpoint the test releases), the test marks
the alert resolved the way the gateway does, and only then lets the run go on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from remediate.approval.cli import approve_main
from remediate.runs.api import PrefectAPI
from tests.support.fix_runner import FixRunner
from tests.support.held_endpoint import HeldEndpoint
from tests.support.sim_service import SimService
from tests.test_fix_approval import READ_EDIT, local_catalog, local_issue, submit
from tests.test_runbook_actions import alert, flow_catalog, restart, restore


def held_verification(config: dict[str, Any], health_url: str) -> dict[str, Any]:
    """The catalog with its one service verified (once) against ``health_url``."""
    config["services"][0]["health"] = [{"url": health_url, "timeout_s": 120}]
    config["verification"] = {"attempts": 1, "interval_s": 0}
    config["policy"]["critical"]["verify"] = True
    return config


async def resolve(runner: FixRunner, run_id: str) -> None:
    """What the gateway does with a resolution of the alert of a run in progress."""
    async with PrefectAPI(runner.api_url) as api:
        await api.set_occurrence_tags(run_id, 1, resolved=True)


async def test_an_alert_resolved_during_the_run_runs_no_action(
    fix_runner: FixRunner, sim_service: SimService, held_health: HeldEndpoint
) -> None:
    check = "resolved-mid-action"
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    fix_runner.write_catalog(
        held_verification(flow_catalog(check, sim_service, actions), held_health.url)
    )
    run_id = await submit(fix_runner, alert(check))
    held_health.wait_entered()
    await resolve(fix_runner, run_id)
    held_health.release()

    run = fix_runner.wait_for(run_id, "Completed", "Suspended")
    assert run["state"]["name"] == "Completed"
    assert "resolved-before:action" in run["tags"]
    assert "awaiting-approval" not in run["tags"]
    assert sim_service.actions() == []
    fix_runner.wait_logs(run_id, "alert resolved since the run started: runbook action not run")
    notes = [c["body"] for c in local_issue(fix_runner, check)["comments"]]
    assert not any("Runbook action" in note for note in notes)


async def test_an_alert_resolved_during_the_run_is_flagged_at_the_approval_gate(
    fix_runner: FixRunner, service_repo: Path, held_health: HeldEndpoint
) -> None:
    check = "resolved-mid-fix"
    fix_runner.write_catalog(held_verification(local_catalog(check, service_repo), held_health.url))
    fix_runner.model.play(*READ_EDIT)
    run_id = await submit(fix_runner, alert(check))
    held_health.wait_entered()
    await resolve(fix_runner, run_id)
    held_health.release()

    # the fix still goes to approval (the cause may remain), marked as resolved before it
    run = fix_runner.wait_for(run_id, "Suspended")
    assert "resolved-before:approval" in run["tags"]
    assert "awaiting-approval" in run["tags"]
    fix_runner.wait_logs(run_id, "alert resolved since the run started")
    reject = [run_id, "--approver", "alice", "--api-url", fix_runner.api_url, "--reject"]
    assert approve_main(reject) == 0
    run = fix_runner.wait_for(run_id, "Completed")
    assert "resolved-before:approval" in run["tags"]
    assert not list((fix_runner.data_dir / "pulls").glob(f"*{check}*"))


async def test_an_alert_not_resolved_runs_on_to_the_gate_unflagged(
    fix_runner: FixRunner, sim_service: SimService, held_health: HeldEndpoint
) -> None:
    """The counterpart: the same run without a resolution reaches the action gate."""
    check = "unresolved-mid-action"
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    fix_runner.write_catalog(
        held_verification(flow_catalog(check, sim_service, actions), held_health.url)
    )
    run_id = await submit(fix_runner, alert(check))
    held_health.wait_entered()
    held_health.release()

    run = fix_runner.wait_for(run_id, "Suspended")
    assert not any(t.startswith("resolved-before:") for t in run["tags"])
    fix_runner.resume(run_id, {"decision": "reject", "approver": "alice", "comment": "no"})
    fix_runner.wait_for(run_id, "Completed")
    assert sim_service.actions() == []
