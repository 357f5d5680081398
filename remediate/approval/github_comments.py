"""``/approve`` and ``/reject [reason]`` comments on an incident issue, as GitHub's
``issue_comment`` webhook delivers them.

GitHub signs the raw body: ``X-Hub-Signature-256: sha256=<HMAC-SHA256 with the webhook
secret>``. Only the first line of a new comment counts; ``/approve`` may name the diff's
sha256 (``/approve 3f2a...``, a prefix of at least 12 characters), which must then be the
diff the run shows."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

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


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    comment_id: int
    login: str
    repository: str
    """owner/name"""
    issue: int
    decision: Decision
    reason: str = ""
    diff_prefix: str = ""


def parse(body: bytes) -> Command | None:
    """The command in a newly created comment; None for any other comment or event."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise CommentError("body", "not JSON") from None
    if not isinstance(payload, dict) or payload.get("action") != "created":
        return None
    comment, issue, repository = (payload.get(k) for k in ("comment", "issue", "repository"))
    if not (isinstance(comment, dict) and isinstance(issue, dict) and isinstance(repository, dict)):
        raise CommentError("comment", "issue_comment payload without comment, issue, repository")
    user = comment.get("user") or {}
    if not isinstance(user, dict) or user.get("type") == "Bot":
        return None
    first = str(comment.get("body") or "").strip().splitlines()[:1]
    match = _COMMAND.match(first[0].strip()) if first else None
    if match is None:
        return None
    login, full_name, number = user.get("login"), repository.get("full_name"), issue.get("number")
    comment_id = comment.get("id")
    if not isinstance(login, str) or not isinstance(full_name, str) or not isinstance(number, int):
        raise CommentError("comment.user.login", "missing login, repository or issue number")
    if not isinstance(comment_id, int):
        raise CommentError("comment.id", "missing")
    rest = (match.group("rest") or "").strip()
    if match.group("verb") == "reject":
        return Command(
            comment_id=comment_id,
            login=login,
            repository=full_name,
            issue=number,
            decision="reject",
            reason=rest[:2000],
        )
    prefix = rest.split()[0].lower() if rest else ""
    if prefix and not _HASH_PREFIX.match(prefix):
        prefix = "invalid"
    return Command(
        comment_id=comment_id,
        login=login,
        repository=full_name,
        issue=number,
        decision="approve",
        diff_prefix=prefix,
    )
