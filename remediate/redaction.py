"""Secrets out of evidence: every match becomes a typed marker such as ``[REDACTED:jwt]``."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from remediate.alerts import Alert

MARKER = "[REDACTED:{}]"
_NOT_MARKER = r"(?!\[REDACTED:)"


@dataclass(frozen=True)
class Rule:
    kind: str
    pattern: re.Pattern[str]
    keep_prefix_group: int | None = None

    def apply(self, text: str) -> str:
        marker = MARKER.format(self.kind)
        if self.keep_prefix_group is None:
            return self.pattern.sub(marker, text)
        group = self.keep_prefix_group
        return self.pattern.sub(lambda m: m.group(group) + marker, text)


def _pair_kind(key: str) -> str:
    key = key.lower()
    if "pass" in key or "pwd" in key:
        return "password"
    if "token" in key:
        return "token"
    return "secret"


_PAIR = re.compile(
    r"(?i)(?P<key>(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key"
    r"|access[_-]?key|private[_-]?key|credentials?)[A-Za-z0-9_.-]{0,40})"
    r"(?P<sep>[\"']?\s*[=:]\s*)"
    r"(?P<value>" + _NOT_MARKER + r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'<>]+))"
)


def _redact_pairs(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = match.group("value")
        marker = MARKER.format(_pair_kind(match.group("key")))
        if value[:1] in {'"', "'"}:
            marker = value[0] + marker + value[0]
        return match.group("key") + match.group("sep") + marker

    return _PAIR.sub(replace, text)


_KEY_END = re.compile(r"-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
_KEY_LINE = re.compile(r"[A-Za-z0-9+/=]+[ \t]*")


def _redact_key_tails(text: str) -> str:
    """A key block whose BEGIN line was cut off: hide the base64 lines before its END line."""
    marker = MARKER.format("private-key")
    while (end := _KEY_END.search(text)) is not None:
        line_start = text.rfind("\n", 0, end.start()) + 1
        start = line_start
        while start > 0:
            previous = text.rfind("\n", 0, start - 1) + 1
            if not _KEY_LINE.fullmatch(text, previous, start - 1):
                break
            start = previous
        text = text[:start] + marker + text[end.end() :]
    return text


BUILTIN_RULES: tuple[Rule, ...] = (
    Rule(
        "private-key",
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?"
            r"(?:-----END[A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
    ),
    Rule(
        "github-token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ),
    Rule("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[0-9A-Z]{16}\b")),
    Rule("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    Rule(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    ),
    Rule(
        "bearer-token",
        re.compile(r"(?i)(\bbearer\s+)" + _NOT_MARKER + r"[A-Za-z0-9._~+/-]{8,}=*"),
        keep_prefix_group=1,
    ),
    Rule(
        "basic-auth",
        re.compile(r"(?i)(\bbasic\s+)" + _NOT_MARKER + r"[A-Za-z0-9+/]{8,}=*"),
        keep_prefix_group=1,
    ),
    Rule(
        "url-credentials",
        re.compile(r"(?i)(\b[a-z][a-z0-9+.-]{0,30}://)[^/\s:@]{0,256}:[^/\s@]{1,1024}@"),
        keep_prefix_group=1,
    ),
)


class Redactor:
    """Built-in rules, then the catalog's own patterns, then ``key=value`` style pairs."""

    def __init__(self, extra: Iterable[tuple[str, str]] = ()) -> None:
        self.rules: list[Rule] = list(BUILTIN_RULES)
        self.rules += [Rule(kind, re.compile(pattern)) for kind, pattern in extra]
        self._steps: list[Callable[[str], str]] = [r.apply for r in self.rules[:1]]
        self._steps.append(_redact_key_tails)
        self._steps += [r.apply for r in self.rules[1:]]
        self._steps.append(_redact_pairs)

    def with_literals(self, kind: str, values: Iterable[str]) -> Redactor:
        """The same rules, plus these exact strings (secrets known by value) hidden first."""
        literals = sorted({v for v in values if v}, key=len, reverse=True)
        if not literals:
            return self
        clone = copy.copy(self)
        rule = Rule(kind, re.compile("|".join(re.escape(v) for v in literals)))
        clone._steps = [rule.apply, *self._steps]
        return clone

    def __call__(self, text: str) -> str:
        for step in self._steps:
            text = step(text)
        return text

    def value(self, data: Any) -> Any:
        """Redact every string inside JSON-like data (keys that name secrets hide their value)."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict):
            result: dict[Any, Any] = {}
            for key, item in data.items():
                if isinstance(key, str) and _secret_key(key) and isinstance(item, str) and item:
                    result[key] = MARKER.format(_pair_kind(key))
                else:
                    result[key] = self.value(item)
            return result
        if isinstance(data, list | tuple):
            return [self.value(item) for item in data]
        return data


_SECRET_KEY = re.compile(
    r"(?i)(passw(?:or)?d|passphrase|^pwd$|secret|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|credentials?|authorization)"
)


def _secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def default_redactor() -> Redactor:
    return Redactor()


def redact_alert(alert: Alert, redactor: Redactor) -> Alert:
    """The alert with secrets in its message, details and labels replaced by markers."""
    details = redactor.value(alert.details)
    labels = {key: redactor(value) for key, value in alert.labels.items()}
    return alert.model_copy(
        update={"summary": redactor(alert.summary), "details": details, "labels": labels}
    )
