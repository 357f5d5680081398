"""Blue-green switch: the live color, the catalog section, and the flow against a real nginx
proxying two real upstreams, switched over a real sshd."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from remediate.alerts import Alert, Severity
from remediate.approval.waiting import waiting_decision
from remediate.bluegreen.config import BlueGreen
from remediate.bluegreen.live import (
    LiveColorError,
    parse_live,
    read_live_url,
    switch_action,
    within_window,
)
from remediate.catalog import CatalogError, Service
from tests.support.blue_green import BlueGreenSite, blue_green_site
from tests.support.fix_runner import FixRunner
from tests.support.sshd import SSHServer
from tests.test_fix_approval import local_issue, submit
from tests.test_github_comment_approval import paused
from tests.test_runbook_actions import HOST, form, load, report

SECTION = BlueGreen(
    live=["bg", "live"],
    window_s=600,
    colors={"blue": "switch-to-blue", "green": "switch-to-green"},
)
ROLLBACK = {
    "name": "rollback",
    "description": "Roll back",
    "risk": "medium",
    "parameters": [{"name": "release", "kind": "string", "pattern": "v[0-9]+", "default": "v1"}],
    "run": ["bg", "rollback", "{release}"],
}


def switch(script: str, color: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"switch-to-{color}",
        "description": f"Send the proxy's traffic to the {color} upstream",
        "risk": "medium",
        "run": [script, "switch", color],
        "post_condition": {"healthy_within_s": 3, "interval_s": 0.5},
        **extra,
    }


def service(script: str, host: dict[str, Any], health_url: str, **change: Any) -> dict[str, Any]:
    return {
        "name": "shop",
        "checks": ["shop"],
        "health": [{"name": "proxy", "url": health_url, "timeout_s": 5}],
        "hosts": [host],
        "actions": [switch(script, "blue"), switch(script, "green")],
        "blue_green": {
            "live": [script, "live"],
            "window_s": 600,
            "colors": {"blue": "switch-to-blue", "green": "switch-to-green"},
            "health": ["proxy"],
        },
        **change,
    }


# --- the live color, parsed strictly -------------------------------------------------------


def test_live_color_and_when_it_went_live() -> None:
    live = parse_live("green 1700000900\n", SECTION)
    assert live.color == "green" and live.since == datetime.fromtimestamp(1700000900, UTC)
    assert parse_live("blue 2023-11-14T22:20:00Z", SECTION).color == "blue"
    assert within_window(live, live.since + timedelta(seconds=600), 600)
    assert not within_window(live, live.since + timedelta(seconds=601), 600)
    assert not within_window(live, live.since - timedelta(seconds=1), 600)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("$(id) 1700000000", "color '$(id)' is not one of ['blue', 'green']"),
        ("blue;id 1700000000", "color 'blue;id' is not one of"),
        ("blue `id` 1700000000", "expected '<color> <time>'"),
        ("blue 1700000000\ngreen 1700000001", "expected one line '<color> <time>', got 2"),
        ("", "expected one line '<color> <time>', got 0"),
        ("blue yesterday", "time 'yesterday' is neither"),
        ("blue 1700000000\x1b[2J", "control or non-ASCII"),
        ("blue  1700000000", "expected '<color> <time>'"),
        ("x" * 1001, "longer than 1000 characters"),
    ],
)
def test_hostile_or_malformed_live_colors_are_refused(output: str, message: str) -> None:
    with pytest.raises(LiveColorError) as error:
        parse_live(output, SECTION)
    assert message in str(error.value)


def test_the_switch_is_the_other_colors_action_with_switching_back_as_undo() -> None:
    svc = Service.model_validate(
        service("/opt/bg", {k: v for k, v in HOST.items() if v}, "http://h/")
    )
    assert svc.blue_green is not None
    action = switch_action(svc, svc.blue_green, "green")
    assert action.name == "switch-to-blue" and action.undo == "switch-to-green"
    assert action.command() == "/opt/bg switch blue"


def test_a_waiting_switch_is_named_in_slack_and_github_replies() -> None:
    tags = ["action:switch-to-blue", "switch:proposed", "switch-from:green", "switch-to:blue"]
    waiting = waiting_decision(paused("action-approval-2", tags))
    assert waiting is not None and waiting.subject == (
        "blue-green switch to `blue` (runbook action `switch-to-blue`)"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"blue_green": {**SECTION.model_dump(), "colors": {"blue": "switch-to-blue"}}},
         "exactly two colors"),
        ({"blue_green": {**SECTION.model_dump(), "colors": {"blue": "switch-to-blue",
                                                             "green": "missing"}}},
         "blue_green.colors.green: action 'missing' is not an action"),
        ({"blue_green": {**SECTION.model_dump(), "host": "db-1"}}, "blue_green.host: unknown"),
        ({"blue_green": {**SECTION.model_dump(), "health": ["direct"]}},
         "blue_green.health: unknown health endpoint(s) direct"),
        ({"blue_green": {**SECTION.model_dump(), "live": ["bg", "{color}"]}}, "without braces"),
        ({"blue_green": {**SECTION.model_dump(), "window_s": 0}}, "window_s"),
        ({"actions": [switch("bg", "blue", undo="rollback"), switch("bg", "green"), ROLLBACK]},
         "colors.blue: action switch-to-blue has undo 'rollback'; switching back is"),
        ({"actions": [switch("bg", "blue", undo="switch-to-green",
                             suggested_by=["shop"]), switch("bg", "green")]},
         "blue_green.colors.blue: action switch-to-blue switches colors"),
        ({"actions": [switch("bg", "blue"), switch("bg", "green"), ROLLBACK],
          "releases": {"command": ["bg", "releases"], "window_s": 60, "action": "rollback",
                       "parameter": "release"}}, "one release strategy, releases or blue_green"),
        ({"health": []}, "needs a health endpoint to verify the switch"),
        ({"blue_green": {**SECTION.model_dump(), "live_url": "http://lb/live"}},
         "exactly one of live or live_url"),
        ({"blue_green": {**SECTION.model_dump(exclude={"live"}), "live_url": "http://lb/live",
                         "host": "lb-1"}}, "host applies to live only"),
        ({"blue_green": {**SECTION.model_dump(exclude={"live"}),
                         "live_url": "http://u:p@lb/live"}}, "must not hold credentials"),
    ],
)  # fmt: skip
def test_catalog_refuses_bad_blue_green_sections(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    data = service("bg", {k: v for k, v in HOST.items() if v is not None}, "http://h/", **change)
    with pytest.raises(CatalogError) as error:
        load(tmp_path, {"services": [data]})
    assert message in str(error.value)


async def test_live_color_read_over_http_from_the_proxy(site: BlueGreenSite) -> None:
    section = SECTION.model_copy(update={"live": None, "live_url": site.live_url})
    read = await read_live_url(section, site.live_url)
    assert read.live is not None and read.live.color == "green" and read.via == "http"
    site.write_live("$(touch${IFS}pwned) 1700000000\n")
    refused = await read_live_url(section, site.live_url)
    assert refused.live is None and refused.error is not None
    assert "live color refused: color '$(touch${IFS}pwned)' is not one of" in refused.error
    missing = await read_live_url(section, site.live_url + "-missing")
    assert missing.error == "HTTP 404"


# --- the flow, against nginx and two upstreams over a real sshd -----------------------------


@pytest.fixture
def site(sshd: SSHServer) -> Iterator[BlueGreenSite]:
    """Green went live a minute ago; blue is the other color."""
    with blue_green_site(sshd, "green", since=time.time() - 60) as running:
        yield running


def flow_catalog(check_id: str, site: BlueGreenSite, verify: bool) -> dict[str, Any]:
    svc = service(site.script, site.host(), site.health_url)
    return {
        "services": [{**svc, "name": f"shop-{check_id}", "checks": [check_id]}],
        "verification": {"attempts": 1, "interval_s": 0},
        "policy": {
            "critical": {
                "verify": verify,
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
        summary="errors since green went live; run `$(touch /tmp/pwned)`",
        fired_at=datetime.now(UTC),
    )


def notes(runner: FixRunner, check_id: str) -> str:
    return "\n".join(c["body"] for c in local_issue(runner, check_id)["comments"])


async def propose(runner: FixRunner, site: BlueGreenSite, check: str, verify: bool = True) -> str:
    runner.write_catalog(flow_catalog(check, site, verify))
    run_id = await submit(runner, alert(check))
    runner.wait_for(run_id, "Suspended")
    shown = form(runner, run_id)
    assert "`switch-to-blue`" in shown and f"{site.script} switch blue" in shown
    assert "undo | `switch-to-green`" in shown
    assert site.serving() == "green" and site.actions() == ["live"]
    text = notes(runner, check)
    assert f"Blue-green switch proposed: `shop-{check}` from `green` to `blue`." in text
    assert "within the switch window of 600 s" in text
    return run_id


async def test_approved_switch_sends_traffic_to_the_other_color_and_health_returns(
    fix_runner: FixRunner, site: BlueGreenSite
) -> None:
    check = "bluegreen-approve"
    site.set_bad("green")
    assert site.health() == 503
    run_id = await propose(fix_runner, site, check)

    fix_runner.resume(run_id, {"decision": "approve", "approver": "alice"})
    run = fix_runner.wait_for(run_id, "Completed")

    assert site.serving() == "blue" and site.health() == 200 and site.live_file() == "blue"
    assert site.actions() == ["live", "switch blue"]
    for tag in (
        "switch:proposed",
        "switch:succeeded",
        "switch-from:green",
        "switch-to:blue",
        "action-approval:approved",
        "action-status:succeeded",
    ):
        assert tag in run["tags"]
    text = notes(fix_runner, check)
    assert f"Blue-green switch of `shop-{check}` from `green` to `blue` succeeded" in text
    assert "approved** by alice via `prefect-api`" in text and "traffic on blue" in text
    artifact = report(fix_runner, run_id)
    assert "## Blue-green switch" in artifact and "Status: **succeeded**" in artifact
    assert "Live: `green` since" in artifact


async def test_switch_whose_health_fails_is_switched_back_and_verified(
    fix_runner: FixRunner, site: BlueGreenSite
) -> None:
    check = "bluegreen-back"
    site.set_bad("blue")
    # green answers healthy now (the errors were intermittent): no verification step, which
    # would call it resolved; the switch to the bad blue then fails its post-condition.
    run_id = await propose(fix_runner, site, check, verify=False)

    fix_runner.resume(run_id, {"decision": "approve", "approver": "alice"})
    run = fix_runner.wait_for(run_id, "Completed")

    assert site.actions() == ["live", "switch blue", "switch green"]
    assert site.serving() == "green" and site.health() == 200 and site.live_file() == "green"
    assert "switch:switched-back" in run["tags"]
    assert "action-status:failed-undone" in run["tags"]
    text = notes(fix_runner, check)
    assert f"Blue-green switch of `shop-{check}` from `green` to `blue` switched back" in text
    assert "health did not return within 3 s" in text
    assert "Verification after the undo: healthy" in text
    assert "Status: **switched-back**" in report(fix_runner, run_id)

    # the alert fires again: green is live since the switch back, and the same switch is
    # not proposed again within the window
    second = await submit(fix_runner, alert(check, number=2))
    again = fix_runner.wait_for(second, "Completed")
    assert site.actions() == ["live", "switch blue", "switch green", "live"]
    assert "switch:blocked" in again["tags"] and "switch:proposed" not in again["tags"]
    text = notes(fix_runner, check)
    assert f"Blue-green switch not proposed again: `shop-{check}` from `green` to `blue`" in text
    assert f"ended switched-back in run {check} · shop-{check} · " in text and run_id in text
    assert "Status: **blocked**" in report(fix_runner, second)


async def test_rejected_switch_switches_nothing(fix_runner: FixRunner, site: BlueGreenSite) -> None:
    check = "bluegreen-reject"
    site.set_bad("green")
    run_id = await propose(fix_runner, site, check)

    fix_runner.resume(run_id, {"decision": "reject", "approver": "alice", "comment": "not now"})
    run = fix_runner.wait_for(run_id, "Completed")

    assert site.actions() == ["live"]
    assert site.serving() == "green" and site.live_file() == "green"
    assert "switch:rejected" in run["tags"] and "action-approval:rejected" in run["tags"]
    assert not Path("/tmp/pwned").exists()
    assert f"Blue-green switch of `shop-{check}` from `green` to `blue`: rejected." in notes(
        fix_runner, check
    )
