"""Approving a fix with Slack's buttons, end to end: the run suspends, the Slack stand-in
receives the message with Approve / Reject, a signed callback reaches the gateway, the run
resumes through the same gate and the pull request lands in the GitHub stand-in."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from remediate.actions.models import ActionProposal
from remediate.approval import slack
from remediate.approval.attestation import DecisionSource, attest, verify
from remediate.approval.form import FixApproval
from remediate.catalog import Catalog
from remediate.notifications import events
from remediate.notifications.render import slack_message
from tests.github_standin import GitHubStandIn
from tests.support.fix_runner import DECISION_KEY, FixRunner
from tests.support.gateway import RunningGateway, config, running_gateway
from tests.support.git_remote import GitRemote
from tests.support.webhook_sink import WebhookSink
from tests.test_fix_approval import (
    READ_EDIT,
    alert,
    github_catalog,
    github_service,  # noqa: F401 (fixture)
    our_comments,
    submit,
)

SIGNING_SECRET = "slack-signing-secret-for-tests"
RUN_ID = "0b7c3c52-52a5-4d4a-9d43-1f0f1c1d2e3f"


def callback(message: dict[str, Any], user: str, action: str, response_url: str) -> bytes:
    [buttons] = [b for b in message["blocks"] if b["type"] == "actions"]
    [button] = [e for e in buttons["elements"] if e["action_id"] == action]
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "team": {"id": "T0TEAM"},
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": buttons["block_id"],
                "value": button["value"],
            }
        ],
        "response_url": response_url,
        "message": {"blocks": message["blocks"]},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def post(
    gateway: RunningGateway, body: bytes, secret: str = SIGNING_SECRET, age_s: float = 0
) -> httpx.Response:
    stamp = str(int(time.time() - age_s))
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack.sign(secret, stamp, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return await gateway.client.post("/v1/approvals/slack", content=body, headers=headers)


def run_logs(runner: FixRunner, run_id: str) -> str:
    return runner.logs(run_id)


async def test_slack_buttons_approve_through_the_gate_and_refuse_the_unlisted(
    fix_runner: FixRunner,
    github_service: tuple[GitRemote, GitHubStandIn],  # noqa: F811
    webhook_sink: WebhookSink,
    tmp_path: Path,
) -> None:
    remote, standin = github_service
    catalog = github_catalog("slack-approve", remote, standin)
    catalog["approval"]["slack_users"] = {"U0ALICE": "alice"}
    catalog["notifications"] = {"channels": [{"kind": "slack", "url": webhook_sink.url("/slack")}]}
    fix_runner.write_catalog(catalog)
    fix_runner.model.play(*READ_EDIT)
    run_id = await submit(fix_runner, alert("slack-approve"))
    fix_runner.wait_for(run_id, "Suspended")
    messages = webhook_sink.bodies("/slack")
    [waiting] = [m for m in messages if any(b["type"] == "actions" for b in m["blocks"])]
    assert "Fix waiting for approval" in waiting["text"]
    response_url = webhook_sink.url("/response")

    settings = config(
        tmp_path,
        fix_runner.api_url,
        slack_signing_secret=SIGNING_SECRET,
        decision_key=DECISION_KEY,
        slack_response_url_prefix=webhook_sink.url("/"),
    )
    async with running_gateway(settings, Catalog.model_validate(catalog)) as gateway:
        approve = callback(waiting, "U0ALICE", "remediate-approve", response_url)
        assert (await post(gateway, approve, secret="wrong")).status_code == 401
        assert (await post(gateway, approve, age_s=400)).status_code == 401
        assert webhook_sink.bodies("/response") == []
        unlisted = callback(waiting, "U0MALLORY", "remediate-approve", response_url)
        assert (await post(gateway, unlisted)).status_code == 200
        [refused] = webhook_sink.bodies("/response")
        assert refused["response_type"] == "ephemeral" and not refused["replace_original"]
        assert "U0MALLORY is not mapped to a listed approver" in refused["text"]
        assert fix_runner.run(run_id)["state"]["name"] == "Suspended"
        assert "slack decision refused: Slack user U0MALLORY" in run_logs(fix_runner, run_id)

        assert (await post(gateway, approve)).status_code == 200
        fix_runner.wait_for(run_id, "Completed")
        decided = webhook_sink.bodies("/response")[-1]
        assert decided["replace_original"] is True
        assert decided["text"] == "Approved by alice"
        assert not any(b["type"] == "actions" for b in decided["blocks"])
        assert "Slack user U0ALICE" in decided["blocks"][-1]["text"]["text"]

        # the same press again: the run no longer waits, nothing happens twice
        assert (await post(gateway, approve)).status_code == 200
        assert "not waiting" in webhook_sink.bodies("/response")[-1]["text"]

    [pull] = standin.pulls("acme/service")
    assert pull.pull is not None and pull.pull.head_ref == "remediate/slack-approve-1"
    notes = our_comments(standin)
    [decision] = [c for c in notes if "Fix approved" in c]
    assert "by alice" in decision and "Channel: `slack`" in decision and "U0ALICE" in decision
    assert standin.violations == []
    logs = run_logs(fix_runner, run_id)
    assert "approved by alice through slack (verified identity U0ALICE)" in logs
    texts = [m["text"] for m in webhook_sink.bodies("/slack")]
    assert any(t.startswith("Fix approved") for t in texts)
    assert any(t.startswith("Pull request #") for t in texts)


def test_an_attestation_counts_only_for_the_decision_it_was_made_for() -> None:
    key = DECISION_KEY.encode()
    sha = "a" * 64
    given = {"decision": "approve", "approver": "alice", "comment": "", "diff_sha256": sha}
    source = DecisionSource(channel="slack", identity="U0ALICE")
    stored = attest(key, RUN_ID, "fix-approval", given, source).model_dump_json()
    approval = FixApproval(**given)  # type: ignore[arg-type]
    assert verify(key, RUN_ID, "fix-approval", approval, stored) == source
    other = FixApproval(**{**given, "approver": "bob"})  # type: ignore[arg-type]
    assert verify(key, RUN_ID, "fix-approval", other, stored) == DecisionSource()
    assert verify(key, RUN_ID, "fix-approval-2", approval, stored) == DecisionSource()
    assert verify(b"another key" * 4, RUN_ID, "fix-approval", approval, stored).channel == (
        "prefect-api"
    )
    assert verify(None, RUN_ID, "fix-approval", approval, stored) == DecisionSource()
    assert verify(key, RUN_ID, "fix-approval", approval, "{}") == DecisionSource()


def test_slack_signature_rules() -> None:
    body = b"payload=%7B%7D"
    now = 1_800_000_000.0
    stamp = str(int(now))
    good = slack.sign(SIGNING_SECRET, stamp, body)
    slack.verify(SIGNING_SECRET, stamp, good, body, now)
    for timestamp, signature, reason in (
        (None, good, "missing_signature"),
        ("12ab", good, "malformed_signature"),
        (str(int(now) - 301), slack.sign(SIGNING_SECRET, str(int(now) - 301), body), "stale"),
        (stamp, good.replace("v0=", "v1="), "bad_signature"),
        (stamp, slack.sign("other", stamp, body), "bad_signature"),
    ):
        try:
            slack.verify(SIGNING_SECRET, timestamp, signature, body, now)
        except slack.SlackAuthError as exc:
            assert str(exc).startswith(reason)
        else:
            raise AssertionError(f"accepted {reason}")


class HeldPrefect:
    """A Prefect API stand-in whose run read waits until released; the run has ended."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.release = threading.Event()
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                held.asked.set()
                held.release.wait(60)
                body = json.dumps(
                    {"id": RUN_ID, "state": {"type": "COMPLETED", "name": "Completed"}}
                )
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api"


async def test_a_slow_decision_is_answered_at_once_and_told_through_response_url(
    webhook_sink: WebhookSink, tmp_path: Path
) -> None:
    """Slack wants an answer within 3 s: past ``slack_answer_within_s`` the callback is
    answered and the decision finishes afterwards, its outcome posted to response_url."""
    prefect = HeldPrefect()
    proposal = ActionProposal(
        service="shop",
        action="restart",
        description="Restart",
        risk="medium",
        parameters={},
        hosts=[],
        command="POST http://127.0.0.1/restart",
        unattended=False,
        undo=None,
        healthy_within_s=3,
    )
    notice = events.action_approval_requested(
        "Runbook action restart", proposal, RUN_ID, None, None, "action-approval"
    )
    message = slack_message(notice)
    settings = config(
        tmp_path,
        prefect.url,
        slack_signing_secret=SIGNING_SECRET,
        decision_key=DECISION_KEY,
        slack_response_url_prefix=webhook_sink.url("/"),
        slack_answer_within_s=0,
    )
    catalog = Catalog.model_validate(
        {"approval": {"approvers": ["alice"], "slack_users": {"U0ALICE": "alice"}}}
    )
    try:
        async with running_gateway(settings, catalog) as gateway:
            press = callback(message, "U0ALICE", "remediate-approve", webhook_sink.url("/response"))
            answer = await post(gateway, press)
            assert answer.status_code == 200
            assert await asyncio.to_thread(prefect.asked.wait, 30)
            assert webhook_sink.bodies("/response") == []  # answered while the decision waits
            prefect.release.set()
            for _ in range(300):
                if webhook_sink.bodies("/response"):
                    break
                await asyncio.sleep(0.1)
        [told] = webhook_sink.bodies("/response")
        assert told["response_type"] == "ephemeral"
        assert "the run is not waiting for a decision (state Completed)" in told["text"]
    finally:
        prefect.release.set()
        prefect.server.shutdown()
        prefect.server.server_close()
