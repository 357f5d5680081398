"""Approving a fix with an ``/approve`` comment on the incident issue, end to end: GitHub's
signed ``issue_comment`` webhook reaches the gateway, the commenter must be a mapped
approver with write permission (asked of the GitHub stand-in), the run resumes through the
same gate and the pull request lands in the stand-in; a reply comment records each outcome."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediate.approval import github_comments
from remediate.approval.waiting import waiting_decision
from remediate.catalog import Catalog
from remediate.gateway.outbox import SQLiteOutbox
from tests.github_standin import GitHubStandIn
from tests.support.fix_runner import DECISION_KEY, TOKEN, FixRunner
from tests.support.gateway import RunningGateway, config, running_gateway
from tests.support.gateway_policy import check_claims_last_across_a_reopen
from tests.support.git_remote import GitRemote
from tests.test_fix_approval import (
    READ_EDIT,
    alert,
    github_catalog,
    github_service,  # noqa: F401 (fixture)
    our_comments,
    submit,
)

WEBHOOK_SECRET = "github-webhook-secret-for-tests"
COMMENT_IDS = itertools.count(1000)


def comment(login: str, text: str, issue: int, kind: str = "User") -> bytes:
    payload: dict[str, Any] = {
        "action": "created",
        "issue": {"number": issue, "title": "incident"},
        "comment": {"id": next(COMMENT_IDS), "body": text, "user": {"login": login, "type": kind}},
        "repository": {"full_name": "acme/service"},
        "sender": {"login": login},
    }
    return json.dumps(payload).encode()


async def post(
    gateway: RunningGateway, body: bytes, secret: str = WEBHOOK_SECRET, event: str = "issue_comment"
) -> httpx.Response:
    headers = {
        "X-GitHub-Event": event,
        "X-Hub-Signature-256": github_comments.sign(secret, body),
        "Content-Type": "application/json",
    }
    return await gateway.client.post("/v1/approvals/github", content=body, headers=headers)


async def test_approve_comment_from_a_writer_resumes_and_others_are_refused(
    fix_runner: FixRunner,
    github_service: tuple[GitRemote, GitHubStandIn],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    remote, standin = github_service
    catalog = github_catalog("comment-approve", remote, standin)
    catalog["approval"]["approvers"] = ["alice", "bob"]
    catalog["approval"]["github_users"] = {"alice-gh": "alice", "bob-gh": "bob"}
    fix_runner.write_catalog(catalog)
    fix_runner.model.play(*READ_EDIT)
    standin.set_role("acme/service", "alice-gh", "write")
    standin.set_role("acme/service", "bob-gh", "triage")
    run_id = await submit(fix_runner, alert("comment-approve"))
    fix_runner.wait_for(run_id, "Suspended")
    [issue] = standin.issues("acme/service")

    def replies() -> list[str]:
        return [c for c in our_comments(standin) if c.startswith("**Decision ")]

    settings = config(
        tmp_path,
        fix_runner.api_url,
        github_webhook_secret=WEBHOOK_SECRET,
        decision_key=DECISION_KEY,
    )
    async with running_gateway(settings, Catalog.model_validate(catalog)) as gateway:
        approve = comment("alice-gh", "/approve", issue.number)
        assert (await post(gateway, approve, secret="wrong")).status_code == 401
        assert (
            await post(gateway, comment("alice-gh", "looks fine", issue.number))
        ).status_code == 204
        assert (await post(gateway, approve, event="issues")).status_code == 204
        assert (await post(gateway, comment("bob-gh", "/approve", issue.number))).status_code == 202
        mallory = comment("mallory", "/approve", issue.number)
        assert (await post(gateway, mallory)).status_code == 202
        assert (await post(gateway, mallory)).status_code == 202  # redelivered
        reader, unlisted = replies()
        assert "`mallory` is not mapped to a listed approver" in unlisted
        assert "`bob-gh` has no write permission on acme/service" in reader
        assert "@" not in unlisted + reader
        assert fix_runner.run(run_id)["state"]["name"] == "Suspended"
        logs = fix_runner.logs(run_id)
        assert "github decision refused: `mallory`" in logs and "`bob-gh` has no write" in logs

        wrong_hash = comment("alice-gh", "/approve 000000000000", issue.number)
        assert (await post(gateway, wrong_hash)).status_code == 202
        assert "the decision names diff 000000000000" in replies()[-1]
        assert fix_runner.run(run_id)["state"]["name"] == "Suspended"

        assert (await post(gateway, approve)).status_code == 202
        fix_runner.wait_for(run_id, "Completed")
        accepted = replies()[-1]
        assert accepted.startswith("**Decision accepted:** fix approved by alice")
        assert "(GitHub account `alice-gh`, write permission checked)" in accepted
        assert (await post(gateway, approve)).status_code == 202  # redelivered
        assert (
            await post(gateway, comment("alice-gh", "/reject late", issue.number))
        ).status_code == 202
        assert replies()[-1] == accepted

    [pull] = standin.pulls("acme/service")
    assert pull.pull is not None and pull.pull.head_ref == "remediate/comment-approve-1"
    [decision] = [c for c in our_comments(standin) if "**Fix approved**" in c]
    assert "by alice" in decision and "Channel: `github`" in decision and "`alice-gh`" in decision
    assert standin.violations == []
    assert "approved by alice through github (verified identity alice-gh)" in fix_runner.logs(
        run_id
    )


def test_comment_commands() -> None:
    def parsed(text: str, kind: str = "User") -> github_comments.Command | None:
        return github_comments.parse(comment("alice-gh", text, 3, kind))

    rejected = parsed("/reject wrong layer\nmore")
    assert rejected is not None
    assert rejected.model_copy(update={"delivery": "issue_comment:1"}) == github_comments.Command(
        delivery="issue_comment:1",
        login="alice-gh",
        repository="acme/service",
        number=3,
        on_pull=False,
        decision="reject",
        reason="wrong layer",
    )
    approve = parsed("/approve 3F2A00112233aa")
    assert approve is not None and approve.diff_prefix == "3f2a00112233aa"
    assert (
        parsed("/approve please") is not None and parsed("/approve please").diff_prefix == "invalid"
    )  # type: ignore[union-attr]
    assert parsed("please /approve") is None
    assert parsed("/approved") is None
    assert parsed("/approve", kind="Bot") is None


def review_payload(text: str, event: str) -> bytes:
    item = {"id": 77, "body": text, "user": {"login": "alice-gh", "type": "User"}}
    payload: dict[str, Any] = {
        "action": "submitted" if event == "pull_request_review" else "created",
        "review" if event == "pull_request_review" else "comment": item,
        "pull_request": {"number": 9},
        "repository": {"full_name": "acme/service"},
    }
    return json.dumps(payload).encode()


def test_commands_on_a_pull_request() -> None:
    for event in ("pull_request_review", "pull_request_review_comment"):
        command = github_comments.parse(review_payload("/reject not now", event), event)
        assert command is not None and (command.number, command.on_pull) == (9, True)
        assert (command.delivery, command.reason) == (f"{event}:77", "not now")
        assert github_comments.parse(review_payload("LGTM", event), event) is None
    on_pull = json.loads(comment("alice-gh", "/approve", 9))
    on_pull["issue"]["pull_request"] = {"url": "https://api.github.com/repos/acme/service/pulls/9"}
    command = github_comments.parse(json.dumps(on_pull).encode())
    assert command is not None and command.on_pull
    assert github_comments.parse(comment("alice-gh", "/approve", 9), "issues") is None
    with pytest.raises(github_comments.CommentError, match="review"):
        github_comments.parse(b'{"action": "submitted"}', "pull_request_review")


def paused(key: str, tags: list[str]) -> dict[str, Any]:
    keyset = {"schema": f"suspended-{key}-schema"}
    state = {"type": "PAUSED", "state_details": {"run_input_keyset": keyset}}
    return {"id": "run-1", "state": state, "tags": tags}


def test_what_a_waiting_run_decides_is_named_in_the_reply() -> None:
    def subject(key: str, *tags: str) -> str | None:
        waiting = waiting_decision(paused(key, list(tags)))
        return waiting and f"{waiting.base_key} {waiting.subject}"

    assert subject("fix-approval-2") == "fix-approval fix"
    assert subject("action-approval", "action:restart") == (
        "action-approval runbook action `restart`"
    )
    rollback = ("action:rollback", "rollback:proposed", "rollback-to:v1")
    assert subject("action-approval-3", *rollback) == (
        "action-approval rollback to release `v1` (runbook action `rollback`)"
    )
    assert subject("capacity-approval-0123456789ab-2", "action:grow") == (
        "capacity-approval-0123456789ab capacity runbook action `grow`"
    )
    assert subject("something-else") is None
    assert waiting_decision({**paused("fix-approval", []), "state": {"type": "RUNNING"}}) is None


async def test_sqlite_outbox_keeps_claims_across_a_reopen(tmp_path: Path) -> None:
    await check_claims_last_across_a_reopen(lambda: SQLiteOutbox(tmp_path / "outbox.db"))
