"""The ``Redactor`` every published text passes through, and JSON-like data through it."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from typing import Any

from remediate.alerts import Alert
from remediate.redaction.named import names_secret, redact_named, secret_kind
from remediate.redaction.private_keys import redact_private_keys
from remediate.redaction.rules import MARKER, TOKEN_RULES, Rule


class Redactor:
    """Private keys, then vendor token shapes, the catalog's own patterns, named secrets."""

    def __init__(self, extra: Iterable[tuple[str, str]] = ()) -> None:
        self.rules: list[Rule] = list(TOKEN_RULES)
        self.rules += [Rule(kind, re.compile(pattern)) for kind, pattern in extra]
        marker = MARKER.format("private-key")
        self._steps: list[Callable[[str], str]] = [lambda t: redact_private_keys(t, marker)]
        self._steps += [r.apply for r in self.rules]
        self._steps.append(redact_named)

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
        """Every string inside JSON-like data redacted, keys included; whatever sits under a
        key that names a secret (a number, a list, a nested object) is hidden whole."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict):
            result: dict[Any, Any] = {}
            for key, item in data.items():
                shown = self(key) if isinstance(key, str) else key
                while shown in result:
                    shown = f"{shown} (again)"
                if isinstance(key, str) and names_secret(key):
                    result[shown] = hide_all(item, secret_kind(key))
                else:
                    result[shown] = self.value(item)
            return result
        if isinstance(data, list | tuple):
            return [self.value(item) for item in data]
        return data


def hide_all(data: Any, kind: str) -> Any:
    """Strings and numbers become the marker; empty values, booleans and nulls stay."""
    if isinstance(data, dict):
        return {key: hide_all(item, kind) for key, item in data.items()}
    if isinstance(data, list | tuple):
        return [hide_all(item, kind) for item in data]
    if isinstance(data, bool) or data is None or data == "":
        return data
    if isinstance(data, str | int | float):
        return MARKER.format(kind)
    return data


def default_redactor() -> Redactor:
    return Redactor()


def redact_alert(alert: Alert, redactor: Redactor) -> Alert:
    """The alert with secrets in its message, details and labels (keys too) replaced.

    Its id, source and check id stay as sent, since they identify the alert (fingerprint,
    occurrence key); every text that shows them redacts them there.
    """
    details = redactor.value(alert.details)
    labels = {redactor(key): redactor(value) for key, value in alert.labels.items()}
    return alert.model_copy(
        update={"summary": redactor(alert.summary), "details": details, "labels": labels}
    )
