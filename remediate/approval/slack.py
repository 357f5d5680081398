"""Slack's side of the Approve / Reject buttons: the signed interaction callback, who
pressed which button, and the message that replaces the buttons once decided.

Slack signs every request with the app's signing secret: ``X-Slack-Signature`` is
``v0=`` + HMAC-SHA256 over ``v0:<X-Slack-Request-Timestamp>:<raw body>``; a timestamp more
than 300 s away is refused, so a captured callback cannot be replayed later."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError

from remediate.approval.form import Decision
from remediate.notifications import escape
from remediate.notifications.notice import DecisionRequest
from remediate.notifications.render import APPROVE_ACTION, DECISION_BLOCK, REJECT_ACTION

SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
TOLERANCE_S = 300.0
ACTIONS: dict[str, Decision] = {APPROVE_ACTION: "approve", REJECT_ACTION: "reject"}


class SlackAuthError(Exception):
    """Why a callback's signature was refused (a metrics label, never the secret); ``public``
    is what the caller may be told: only for a valid signature on a stale timestamp."""

    def __init__(self, reason: str, public: str | None = None) -> None:
        super().__init__(reason)
        self.public = public


class InteractionError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> None:
    if not timestamp or not signature:
        raise SlackAuthError("missing_signature")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SlackAuthError("malformed_signature")
    if not signature.isascii() or not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise SlackAuthError("bad_signature")
    offset = int(timestamp) - now
    if abs(offset) > TOLERANCE_S:
        raise SlackAuthError(
            "stale_signature",
            f"request timestamp is {offset:+.0f} s from the gateway's clock, outside the"
            f" tolerance of {TOLERANCE_S:.0f} s; check the gateway's clock",
        )


class Interaction(BaseModel):
    """One button press, from a verified callback."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    user_name: str
    decision: Decision
    request: DecisionRequest
    response_url: str
    blocks: list[dict[str, Any]]
    """The message's blocks as Slack holds them (ours), to keep them when updating."""


def parse(body: bytes) -> Interaction:
    """A ``block_actions`` callback (form field ``payload``, JSON)."""
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload = json.loads(fields["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        raise InteractionError("payload", "not a form field holding JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise InteractionError("payload.type", "only block_actions callbacks are handled")
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise InteractionError("payload.user.id", "missing")
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise InteractionError("payload.actions", "exactly one action expected")
    action = actions[0]
    decision = ACTIONS.get(str(action.get("action_id")))
    if decision is None or action.get("block_id") != DECISION_BLOCK:
        raise InteractionError("payload.actions[0].action_id", "not a remediate decision button")
    try:
        request = DecisionRequest.model_validate_json(str(action.get("value", "")))
    except ValidationError:
        raise InteractionError("payload.actions[0].value", "not a decision request") from None
    response_url = payload.get("response_url")
    if not isinstance(response_url, str):
        raise InteractionError("payload.response_url", "missing")
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    blocks = [b for b in (message or {}).get("blocks") or [] if isinstance(b, dict)]
    return Interaction(
        user_id=user["id"],
        user_name=str(user.get("username") or user.get("name") or ""),
        decision=decision,
        request=request,
        response_url=response_url,
        blocks=blocks,
    )


def decided_message(interaction: Interaction, approver: str, at: str) -> dict[str, Any]:
    """Replaces the original message: its blocks without the buttons, plus the decision."""
    verdict = "Approved" if interaction.decision == "approve" else "Rejected"
    kept = [b for b in interaction.blocks if b.get("block_id") != DECISION_BLOCK]
    line = (
        f"*{verdict}* by {escape.slack(approver, 100)} (Slack user"
        f" {escape.slack(interaction.user_id, 30)}) at {escape.slack(at, 40)}"
    )
    return {
        "replace_original": True,
        "text": escape.slack(f"{verdict} by {approver}"),
        "blocks": [*kept, {"type": "section", "text": {"type": "mrkdwn", "text": line}}],
    }


def refused_message(reason: str) -> dict[str, Any]:
    """Shown only to the person who pressed the button; the buttons stay."""
    return {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": escape.slack(f"Decision refused: {reason}", 1000),
    }
