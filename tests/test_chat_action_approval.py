"""Runbook-action decisions from where people are, end to end: a GitHub ``/approve`` in a
review of the pull request the approved fix became decides the action the same run waits
for next (a gateway restarted since remembers what it answered); Slack's buttons on the
"waiting for approval" message decide an action too. Same gate, allow-list and verified
identity as a fix."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediate.catalog import Catalog
from tests.github_standin import GitHubStandIn
from tests.support.admin_service import AdminService
from tests.support.fix_runner import DECISION_KEY, TOKEN, FixRunner
from tests.support.gateway import config, running_gateway
from tests.support.git_remote import GitRemote
from tests.support.webhook_sink import WebhookSink
from tests.test_fix_approval import (
    READ_EDIT,
    alert,
    github_service,  # noqa: F401 (fixture)
    our_comments,
    submit,
)
from tests.test_github_comment_approval import WEBHOOK_SECRET, comment
from tests.test_github_comment_approval import post as post_github
from tests.test_runbook_http import http_restart, http_rollback
from tests.test_slack_approval import SIGNING_SECRET, callback
from tests.test_slack_approval import post as post_slack

REVIEW_IDS = itertools.count(5000)


def review(login: str, text: str, pull: int) -> bytes:
    payload: dict[str, Any] = {
        "action": "submitted",
        "review": {
            "id": next(REVIEW_IDS),
            "body": text,
            "state": "commented",
            "user": {"login": login, "type": "User"},
        },
        "pull_request": {"number": pull, "title": "fix"},
        "repository": {"full_name": "acme/service"},
        "sender": {"login": login},
    }
    return json.dumps(payload).encode()


def action_catalog(
    check: str, admin: AdminService, repository: dict[str, Any] | None, fix: bool
) -> dict[str, Any]:
    service: dict[str, Any] = {
        "name": f"svc-{check}",
        "checks": [check],
        "health": [{"url": admin.health_url, "timeout_s": 1}],
        "actions": [http_restart(admin.url, check), http_rollback(admin.url)],
    }
    if repository is not None:
        service["repository"] = repository
    critical = {"verify": False, "diagnose": False, "collect_logs": False, "propose_fix": fix}
    return {
        "services": [service],
        "policy": {"critical": critical},
        "approval": {"approvers": ["alice", "bob"]},
        "tracker": {"kind": "github" if repository else "local"},
    }


def wait_for_decision(runner: FixRunner, run_id: str, key: str, timeout: float = 120) -> None:
    """Until the run is suspended waiting under ``key``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = runner.run(run_id)["state"]
        keyset = (state.get("state_details") or {}).get("run_input_keyset") or {}
        if state["name"] == "Suspended" and keyset.get("schema") == f"suspended-{key}-schema":
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never waited for {key}")


def pull_replies(standin: GitHubStandIn, number: int) -> list[str]:
    [pull] = [p for p in standin.pulls("acme/service") if p.number == number]
    return [c.body for c in pull.comments if c.author == "remediate-bot"]


async def test_a_review_on_the_fix_pull_request_decides_the_action_that_waits_next(
    fix_runner: FixRunner,
    github_service: tuple[GitRemote, GitHubStandIn],  # noqa: F811
    admin_service: AdminService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    remote, standin = github_service
    check = "review-action"
    repository = {
        "owner": "acme",
        "name": "service",
        "clone_url": remote.url("acme", "service"),
        "api_base_url": standin.base_url,
    }
    catalog = action_catalog(check, admin_service, repository, fix=True)
    catalog["approval"]["github_users"] = {"alice-gh": "alice", "bob-gh": "bob"}
    fix_runner.write_catalog(catalog)
    fix_runner.model.play(*READ_EDIT)
    standin.set_role("acme/service", "alice-gh", "write")
    standin.set_role("acme/service", "bob-gh", "triage")
    run_id = await submit(fix_runner, alert(check))
    wait_for_decision(fix_runner, run_id, "fix-approval")
    [issue] = standin.issues("acme/service")
    settings = config(
        tmp_path,
        fix_runner.api_url,
        github_webhook_secret=WEBHOOK_SECRET,
        decision_key=DECISION_KEY,
    )

    async with running_gateway(settings, Catalog.model_validate(catalog)) as gateway:
        approve_fix = comment("alice-gh", "/approve", issue.number)
        assert (await post_github(gateway, approve_fix)).status_code == 202
        wait_for_decision(fix_runner, run_id, "action-approval")
        [pull] = standin.pulls("acme/service")
        assert f"pull:{pull.number}" in fix_runner.run(run_id)["tags"]
        assert admin_service.requests == []

        unlisted = review("bob-gh", "/approve", pull.number)
        assert (
            await post_github(gateway, unlisted, event="pull_request_review")
        ).status_code == 202
        named_diff = review("alice-gh", "/approve 0123456789ab", pull.number)
        assert (
            await post_github(gateway, named_diff, event="pull_request_review")
        ).status_code == 202
        refused, no_diff = pull_replies(standin, pull.number)
        assert "`bob-gh` has no write permission" in refused
        assert "the runbook action `restart` keeps waiting" in refused
        assert "names diff 0123456789ab, but this decision has no diff" in no_diff
        assert fix_runner.run(run_id)["state"]["name"] == "Suspended"

        approve = review("alice-gh", "/approve", pull.number)
        assert (await post_github(gateway, approve, event="pull_request_review")).status_code == 202
        fix_runner.wait_for(run_id, "Completed")
    accepted = pull_replies(standin, pull.number)[-1]
    assert accepted.startswith("**Decision accepted:** runbook action `restart` approved by alice")
    assert "(GitHub account `alice-gh`, write permission checked)" in accepted

    replies = len(our_comments(standin)), len(pull_replies(standin, pull.number))
    async with running_gateway(settings, Catalog.model_validate(catalog)) as gateway:
        # redelivered after a restart: handled before, so nothing is written again
        for body, event in ((approve, "pull_request_review"), (approve_fix, "issue_comment")):
            assert (await post_github(gateway, body, event=event)).status_code == 202
    assert (len(our_comments(standin)), len(pull_replies(standin, pull.number))) == replies

    assert [r["segments"][4] for r in admin_service.requests] == ["restart"]
    [result] = [c for c in our_comments(standin) if "Runbook action `restart`: succeeded." in c]
    assert "**Approval gate: approved** by alice via `github`" in result
    assert "Verified identity: GitHub account `alice-gh`" in result
    assert standin.violations == []
    logs = fix_runner.logs(run_id)
    assert "github decision refused: `bob-gh` has no write permission" in logs
    assert "approved by alice through github (verified identity alice-gh)" in logs


async def test_slack_buttons_decide_a_runbook_action(
    fix_runner: FixRunner,
    admin_service: AdminService,
    webhook_sink: WebhookSink,
    tmp_path: Path,
) -> None:
    check = "slack-action"
    catalog = action_catalog(check, admin_service, None, fix=False)
    catalog["approval"]["slack_users"] = {"U0BOB": "bob"}
    catalog["notifications"] = {"channels": [{"kind": "slack", "url": webhook_sink.url("/slack")}]}
    fix_runner.write_catalog(catalog)
    run_id = await submit(fix_runner, alert(check))
    wait_for_decision(fix_runner, run_id, "action-approval")
    [waiting] = [
        m for m in webhook_sink.bodies("/slack") if any(b["type"] == "actions" for b in m["blocks"])
    ]
    assert waiting["text"].startswith("Runbook action restart waiting for approval")
    settings = config(
        tmp_path,
        fix_runner.api_url,
        slack_signing_secret=SIGNING_SECRET,
        decision_key=DECISION_KEY,
        slack_response_url_prefix=webhook_sink.url("/"),
    )
    async with running_gateway(settings, Catalog.model_validate(catalog)) as gateway:
        reject = callback(waiting, "U0BOB", "remediate-reject", webhook_sink.url("/response"))
        assert (await post_slack(gateway, reject)).status_code == 200
        fix_runner.wait_for(run_id, "Completed")
    [decided] = webhook_sink.bodies("/response")
    assert decided["replace_original"] is True and decided["text"] == "Rejected by bob"
    assert not any(b["type"] == "actions" for b in decided["blocks"])
    assert admin_service.requests == []
    run = fix_runner.run(run_id)
    assert "action-approval:rejected" in run["tags"]
    assert "rejected by bob through slack (verified identity U0BOB)" in fix_runner.logs(run_id)
    texts = [m["text"] for m in webhook_sink.bodies("/slack")]
    assert any(t.startswith("Runbook action restart rejected") for t in texts)
    response = httpx.post(
        f"{fix_runner.api_url}/artifacts/filter",
        json={
            "artifacts": {"flow_run_id": {"any_": [run_id]}, "key": {"any_": ["action-decision"]}}
        },
        trust_env=False,
    )
    [record] = response.json()
    assert "Channel: `slack`" in record["data"] and "U0BOB" in record["data"]
