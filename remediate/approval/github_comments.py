"""``/approve`` and ``/reject [reason]`` comments on an incident issue, or on the pull
request a fix became (a comment, a review, a comment on its diff), as GitHub's
``issue_comment``, ``pull_request_review`` and ``pull_request_review_comment`` webhooks
deliver them.

GitHub signs the raw body: ``X-Hub-Signature-256: sha256=<HMAC-SHA256 with the webhook
secret>``. Only the first line of a new comment counts; ``/approve`` may name the diff's
sha256 (``/approve 3f2a...``, a prefix of at least 12 characters), which must then be the
diff the run shows."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from remediate.approval.form import Decision

SIGNATURE_HEADER = "x-hub-signature-256"
EVENT_HEADER = "x-github-event"
_COMMAND = re.compile(r"^/(?P<verb>approve|reject)(?:[ \t]+(?P<rest>.*))?$")
_HASH_PREFIX = re.compile(r"^[0-9a-f]{12,64}$")


class GitHubAuthError(Exception):
    """Why a delivery's signature was refused (a metrics label)."""


class CommentError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, header: str | None, body: bytes) -> None:
    if not header:
        raise GitHubAuthError("missing_signature")
    if not header.isascii() or not hmac.compare_digest(sign(secret, body), header):
        raise GitHubAuthError("bad_signature")


EVENTS = ("issue_comment", "pull_request_review", "pull_request_review_comment")
"""The events a command can arrive in: a comment on an issue or a pull request, a review
of a pull request (its body), a comment on a pull request's diff."""


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    delivery: str
    """``<event>:<comment or review id>``: the same command redelivered has the same one."""
    login: str
    repository: str
    """owner/name"""
    number: int
    """The issue or pull request the command was written on (the reply goes there)."""
    on_pull: bool
    decision: Decision
    reason: str = ""
    diff_prefix: str = ""


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise CommentError("body", "not JSON") from None
    if not isinstance(payload, dict):
        raise CommentError("body", "not a JSON object")
    return payload


def _written(payload: dict[str, Any], event: str) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The comment (or review) and the issue (or pull request) it was written on."""
    if event == "issue_comment":
        item, thread = payload.get("comment"), payload.get("issue")
        on_pull = isinstance(thread, dict) and thread.get("pull_request") is not None
        field = "comment"
    else:
        field = "review" if event == "pull_request_review" else "comment"
        item, thread, on_pull = payload.get(field), payload.get("pull_request"), True
    if not (isinstance(item, dict) and isinstance(thread, dict)):
        raise CommentError(field, f"{event} payload without {field} and its issue or pull request")
    return item, thread, on_pull


def parse(body: bytes, event: str = "issue_comment") -> Command | None:
    """The command in a newly written comment or submitted review; None for any other
    comment, review or event."""
    if event not in EVENTS:
        return None
    payload = _payload(body)
    if payload.get("action") != ("submitted" if event == "pull_request_review" else "created"):
        return None
    item, thread, on_pull = _written(payload, event)
    repository = payload.get("repository")
    if not isinstance(repository, dict):
        raise CommentError("repository", "missing")
    user = item.get("user") or {}
    if not isinstance(user, dict) or user.get("type") == "Bot":
        return None
    first = str(item.get("body") or "").strip().splitlines()[:1]
    match = _COMMAND.match(first[0].strip()) if first else None
    if match is None:
        return None
    login, full_name, number = user.get("login"), repository.get("full_name"), thread.get("number")
    item_id = item.get("id")
    if not isinstance(login, str) or not isinstance(full_name, str) or not isinstance(number, int):
        raise CommentError("user.login", "missing login, repository or issue number")
    if not isinstance(item_id, int):
        raise CommentError("id", "missing")
    rest = (match.group("rest") or "").strip()
    command = Command(
        delivery=f"{event}:{item_id}",
        login=login,
        repository=full_name,
        number=number,
        on_pull=on_pull,
        decision="reject" if match.group("verb") == "reject" else "approve",
    )
    if command.decision == "reject":
        return command.model_copy(update={"reason": rest[:2000]})
    prefix = rest.split()[0].lower() if rest else ""
    if prefix and not _HASH_PREFIX.match(prefix):
        prefix = "invalid"
    return command.model_copy(update={"diff_prefix": prefix})
