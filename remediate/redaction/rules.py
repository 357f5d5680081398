"""Secrets recognised by their shape: vendor token formats, auth schemes, URL passwords."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

MARKER = "[REDACTED:{}]"
NOT_MARKER = r"(?!\\?\[REDACTED:)"


@dataclass(frozen=True)
class Rule:
    """Every match becomes the kind's marker; with a ``secret`` group, only that group does.

    ``accept`` sees the secret and may keep it (a shape that is only sometimes a secret).
    """

    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None

    def apply(self, text: str) -> str:
        marker = MARKER.format(self.kind)
        group = "secret" if "secret" in self.pattern.groupindex else 0

        def replace(match: re.Match[str]) -> str:
            if self.accept is not None and not self.accept(match.group(group)):
                return match.group(0)
            whole, (start, end) = match.group(0), match.span(group)
            return whole[: start - match.start()] + marker + whole[end - match.start() :]

        return self.pattern.sub(replace, text)


def _looks_like_token(value: str) -> bool:
    """A bearer credential, not an English word after "bearer"."""
    return len(value) >= 20 or any(c.isdigit() or c in "._~+/-" for c in value)


def _decodes_to_user_and_password(value: str) -> bool:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        text = decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return ":" in text and text.isprintable()


def _rule(kind: str, pattern: str, accept: Callable[[str], bool] | None = None) -> Rule:
    return Rule(kind, re.compile(pattern), accept)


TOKEN_RULES: tuple[Rule, ...] = (
    _rule(
        "github-token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    ),
    _rule(
        "gitlab-token",
        r"\bgl(?:pat|dt|rt|ptt|cbt|oas|ft|soat|imt|agent)-[A-Za-z0-9_-]{20,}",
    ),
    _rule("aws-access-key", r"\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[0-9A-Z]{16}\b"),
    _rule("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    _rule("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    _rule("openai-key", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"),
    _rule("stripe-key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9]{24,}"),
    _rule("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    _rule("pypi-token", r"\bpypi-AgE[A-Za-z0-9_-]{50,}"),
    _rule("docker-token", r"\bdckr_pat_[A-Za-z0-9_-]{20,}"),
    _rule("vault-token", r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}"),
    _rule("sendgrid-key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
    _rule("slack-token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    _rule(
        "slack-webhook",
        r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/(?P<secret>[A-Za-z0-9]{16,})",
    ),
    _rule("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    _rule(
        "bearer-token",
        r"(?i)\bbearer\s+" + NOT_MARKER + r"(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)",
        _looks_like_token,
    ),
    _rule(
        "basic-auth",
        r"(?i)\bbasic\s+" + NOT_MARKER + r"(?P<secret>[A-Za-z0-9+/]{8,}=*)",
        _decodes_to_user_and_password,
    ),
    _rule(
        "url-credentials",
        r"(?i)\b[a-z][a-z0-9+.-]{0,30}://[^/\s:@?#\"'<>]{0,256}:"
        + NOT_MARKER
        + r"(?P<secret>[^/\s?#\"'<>]{0,1024}[^/\s?#\"'<>@])@",
    ),
)
