"""Deployment rollback: release listings, the catalog section, and the flow over a real sshd."""

from __future__ import annotations

import pwd
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediate.actions.config import ActionParameterError
from remediate.alerts import Alert, Severity
from remediate.catalog import CatalogError, Service
from remediate.reporting.history import History
from remediate.reporting.metrics import compute
from remediate.rollback.config import ReleaseSource
from remediate.rollback.ssh_releases import (
    ReleaseError,
    parse_listing,
    rollback_action,
    within_window,
)
from tests.support.fix_runner import FixRunner
from tests.support.sim_service import SimService
from tests.test_fix_approval import local_issue, submit
from tests.test_runbook_actions import HOST, form, load, report

SOURCE = ReleaseSource(
    command=["svc", "releases"], window_s=600, action="rollback", parameter="release"
)


def rollback(script: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "rollback",
        "description": "Switch to an earlier release and restart",
        "risk": "medium",
        "parameters": [
            {"name": "release", "kind": "string", "pattern": "v[0-9]+", "default": "v1"}
        ],
        "run": [script, "rollback", "{release}"],
        "post_condition": {"healthy_within_s": 3, "interval_s": 0.5},
        **extra,
    }


def releases(script: str, **extra: Any) -> dict[str, Any]:
    return {
        "command": [script, "releases"],
        "window_s": 600,
        "action": "rollback",
        "parameter": "release",
        **extra,
    }


# --- the listing, parsed strictly ---------------------------------------------------------


def test_listing_gives_current_and_the_release_created_before_it() -> None:
    listing = parse_listing(
        "v2 1700000200\nv1 1700000000\nv3 2023-11-14T22:20:00Z\ncurrent v2 1700000900\n", SOURCE
    )
    assert [r.id for r in listing.releases] == ["v1", "v2", "v3"]
    assert listing.current == "v2"
    assert listing.deployed_at == datetime.fromtimestamp(1700000900, UTC)
    previous = listing.previous()
    assert previous is not None and previous.id == "v1"
    first = parse_listing("v1 1700000000\ncurrent v1 1700000900\n", SOURCE)
    assert first.previous() is None


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("$(id) 1700000000\ncurrent v1 1", "line 1: release id '$(id)'"),
        ("$(touch pwned) 1700000000\ncurrent v1 1", "line 1: expected '<release> <time>'"),
        ("v1;id 1700000000\ncurrent v1 1", "line 1: release id 'v1;id'"),
        ("v1 `id` 1700000000\ncurrent v1 1", "line 1: expected '<release> <time>'"),
        ("-rf 1700000000\ncurrent -rf 1", "line 1: release id '-rf'"),
        ("v1 1700000000\ncurrent v1 1\ncurrent v0 2", "line 3: a second 'current' line"),
        ("v1 1700000000\nv1 1700000001\ncurrent v1 1", "line 2: release v1 is listed twice"),
        ("v1 1700000000\ncurrent v2 1", "the current release v2 is not among"),
        ("v1 1700000000\n", "no 'current <release> <time>' line"),
        ("v1 yesterday\ncurrent v1 1", "line 1: time 'yesterday'"),
        ("v1 1700000000\x1b[2J\ncurrent v1 1", "line 1: control or non-ASCII"),
        ("v1 1700000000\ncurrent current 1", "line 2: release id 'current'"),
        ("v1  1700000000\ncurrent v1 1", "line 1: expected"),
        ("v\u00e9 1700000000\ncurrent v\u00e9 1", "line 1: control or non-ASCII"),
    ],
)
def test_hostile_or_malformed_listings_are_refused_naming_the_line(
    output: str, message: str
) -> None:
    with pytest.raises(ReleaseError) as error:
        parse_listing(output, SOURCE)
    assert message in str(error.value)


def test_window_counts_from_the_time_the_current_release_went_live() -> None:
    listing = parse_listing("v1 1700000000\nv2 1700000100\ncurrent v2 1700001000\n", SOURCE)
    live = listing.deployed_at
    assert within_window(listing, live + timedelta(seconds=60), 600)
    assert within_window(listing, live + timedelta(seconds=600), 600)
    assert not within_window(listing, live + timedelta(seconds=601), 600)
    assert not within_window(listing, live - timedelta(seconds=1), 600)


def test_release_id_is_checked_by_the_rollback_parameter_too() -> None:
    svc = Service.model_validate(
        {
            "name": "app",
            "hosts": [{k: v for k, v in HOST.items() if v is not None}],
            "actions": [rollback("/opt/app/bin/svc")],
            "releases": releases("/opt/app/bin/svc"),
        }
    )
    assert svc.releases is not None
    bound = rollback_action(svc, svc.releases, "v7")
    assert bound.command() == "/opt/app/bin/svc rollback v7"
    assert svc.actions[0].command() == "/opt/app/bin/svc rollback v1"
    with pytest.raises(ActionParameterError, match=r"parameter release: '1\.0' does not match"):
        rollback_action(svc, svc.releases, "1.0")


@pytest.mark.parametrize(
    ("services_change", "message"),
    [
        ({"releases": releases("svc", action="missing")}, "action 'missing' is not an action"),
        ({"releases": releases("svc", parameter="other")}, "has no parameter 'other'"),
        ({"releases": releases("svc", host="db-1")}, "unknown host db-1"),
        ({"releases": releases("svc", command=["svc", "{x}"])}, "without braces"),
        ({"releases": releases("svc", window_s=0)}, "window_s"),
        (
            {"actions": [rollback("svc", suggested_by=["app-down"])]},
            "it cannot also be suggested by check ids",
        ),
    ],
)
def test_catalog_refuses_bad_release_sections(
    tmp_path: Path, services_change: dict[str, Any], message: str
) -> None:
    service = {
        "name": "app",
        "checks": ["app"],
        "hosts": [{k: v for k, v in HOST.items() if v is not None}],
        "actions": [rollback("svc")],
        "releases": releases("svc"),
        **services_change,
    }
    with pytest.raises(CatalogError) as error:
        load(tmp_path, {"services": [service]})
    assert message in str(error.value)


# --- the flow, against the simulated service over a real sshd ----------------------------


def flow_catalog(check_id: str, sim: SimService) -> dict[str, Any]:
    return {
        "services": [
            {
                "name": f"sim-{check_id}",
                "checks": [check_id],
                "health": [{"url": sim.health_url, "timeout_s": 1}],
                "hosts": [sim.host()],
                "actions": [rollback(sim.script)],
                "releases": releases(sim.script),
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
    }


def alert(check_id: str, number: int = 1) -> Alert:
    return Alert(
        id=f"{check_id}-{number}",
        source="test",
        check_id=check_id,
        severity=Severity.CRITICAL,
        summary="errors after the release",
        fired_at=datetime.now(UTC),
    )


def deploy_bad_release(sim: SimService, live_for_s: float, v1_bad: bool = False) -> None:
    now = time.time()
    sim.add_release("v1", created=now - 86_400, bad=v1_bad)
    sim.add_release("v2", created=now - 3_600, bad=True)
    sim.make_current("v2", deployed=now - live_for_s)
    assert sim.ctl("start").returncode == 0
    assert httpx.get(sim.health_url, trust_env=False).status_code == 503


def notes(runner: FixRunner, check_id: str) -> str:
    return "\n".join(c["body"] for c in local_issue(runner, check_id)["comments"])


async def test_bad_release_rolled_back_after_approval_health_recovers(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "rollback-window"
    deploy_bad_release(sim_service, live_for_s=60)
    fix_runner.write_catalog(flow_catalog(check, sim_service))
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")

    shown = form(fix_runner, run_id)
    assert "`rollback`" in shown and "release=v1" in shown and "rollback v1" in shown
    assert sim_service.current() == "releases/v2"
    text = notes(fix_runner, check)
    assert f"Deployment rollback proposed: `sim-{check}` from `v2` to `v1`." in text
    assert "within the rollback window of 600 s" in text

    fix_runner.resume(run_id, {"decision": "approve", "approver": "alice"})
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.current() == "releases/v1"
    assert httpx.get(sim_service.health_url, trust_env=False).status_code == 200
    assert [a for a in sim_service.actions() if a != "releases"] == ["start", "rollback v1"]
    for tag in (
        "rollback:proposed",
        "rollback:succeeded",
        "rollback-from:v2",
        "rollback-to:v1",
        "action-approval:approved",
        "action-status:succeeded",
    ):
        assert tag in run["tags"]
    text = notes(fix_runner, check)
    assert f"Deployment rollback of `sim-{check}` from `v2` to `v1` succeeded" in text
    assert "approved** by alice via `prefect-api`" in text and "release v1 is live" in text
    artifact = report(fix_runner, run_id)
    assert "## Deployment rollback" in artifact and "Status: **succeeded**" in artifact
    assert "Runbook action `rollback`: succeeded." in artifact


async def test_release_outside_the_window_proposes_no_rollback(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "rollback-outside"
    deploy_bad_release(sim_service, live_for_s=7_200)
    fix_runner.write_catalog(flow_catalog(check, sim_service))
    run_id = await submit(fix_runner, alert(check))
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == ["start", "releases"]
    assert sim_service.current() == "releases/v2"
    assert not any(t.startswith("rollback") for t in run["tags"])
    assert "Deployment rollback proposed" not in notes(fix_runner, check)
    artifact = report(fix_runner, run_id)
    assert "Status: **not-proposed**" in artifact
    assert "outside the rollback window of 600 s" in artifact


async def test_failed_rollback_is_loud_and_not_proposed_again(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "rollback-fails"
    deploy_bad_release(sim_service, live_for_s=60, v1_bad=True)
    fix_runner.write_catalog(flow_catalog(check, sim_service))
    since = datetime.now(UTC) - timedelta(seconds=1)
    first = await submit(fix_runner, alert(check))
    fix_runner.wait_for(first, "Suspended")
    fix_runner.resume(first, {"decision": "approve", "approver": "alice"})
    run = fix_runner.wait_for(first, "Completed")

    assert "rollback:failed" in run["tags"] and "action-status:failed-no-undo" in run["tags"]
    text = notes(fix_runner, check)
    assert f"DEPLOYMENT ROLLBACK FAILED: `sim-{check}` from `v2` to `v1`" in text
    assert "health did not return within 3 s" in text and "It is not retried" in text

    # v2 goes live again; the same alert fires again a minute later.
    sim_service.make_current("v2", deployed=time.time() - 60)
    second = await submit(fix_runner, alert(check, number=2))
    again = fix_runner.wait_for(second, "Completed")

    assert [a for a in sim_service.actions() if a.startswith("rollback")] == ["rollback v1"]
    assert "rollback:blocked" in again["tags"] and "rollback:proposed" not in again["tags"]
    text = notes(fix_runner, check)
    assert f"Deployment rollback not proposed again: `sim-{check}` from `v2` to `v1`" in text
    assert f"failed in run {check} · sim-{check} · " in text and f"({first})" in text
    assert "Status: **blocked**" in report(fix_runner, second)

    until = datetime.now(UTC) + timedelta(seconds=1)
    async with History(fix_runner.api_url) as history:
        figures = compute(await history.records(since, until), since, until)
    value = {f.key: f.value for f in figures.figures}
    assert value["runs"] == 2
    assert value["rollbacks"] == 1 and value["rollbacks_failed"] == 1
    assert value["actions_run"] == 1 and value["actions_undone"] == 0
    assert value["rolled_back"] == 0.0


async def test_hostile_release_names_from_the_host_are_refused(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "rollback-hostile"
    now = time.time()
    sim_service.add_release("v1", created=now - 86_400)
    hostile = "$(touch${IFS}pwned)"
    sim_service.add_release(hostile, created=now - 3_600, bad=True)
    sim_service.make_current(hostile, deployed=now - 60)
    assert sim_service.ctl("start").returncode == 0
    fix_runner.write_catalog(flow_catalog(check, sim_service))
    run_id = await submit(fix_runner, alert(check))
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == ["start", "releases"]
    home = Path(pwd.getpwnam(sim_service.sshd.user).pw_dir)
    assert not (sim_service.root / "pwned").exists() and not (home / "pwned").exists()
    assert "rollback:unreadable" in run["tags"] and "rollback:proposed" not in run["tags"]
    text = notes(fix_runner, check)
    assert f"Releases of `sim-{check}` could not be used; no rollback proposed." in text
    assert "listing refused: line " in text and f"release id '{hostile}' does not match" in text
