"""Output of a runbook action as it is recorded: redacted, cleaned and bounded."""

from __future__ import annotations

import re

from remediate.redaction import Redactor

OUTPUT_LIMIT = 4_000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def shape_output(raw: bytes | str | None, redactor: Redactor) -> str:
    """Redacted, without control characters, the last ``OUTPUT_LIMIT`` characters."""
    if raw is None:
        return ""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = _CONTROL.sub("", redactor(text.replace("\r\n", "\n")))
    if len(text) > OUTPUT_LIMIT:
        text = f"[... {len(text) - OUTPUT_LIMIT} characters cut ...]\n" + text[-OUTPUT_LIMIT:]
    return text.strip()
