"""Secrets out of evidence: every match becomes a typed marker such as ``[REDACTED:jwt]``.

``private_keys`` hides key blocks without running past them, ``rules`` recognises secrets
by their shape, ``named`` by the key, flag or header that names them, and ``redactor``
applies them all, to text and to JSON-like data.
"""

from remediate.redaction.redactor import Redactor, default_redactor, hide_all, redact_alert
from remediate.redaction.rules import MARKER, TOKEN_RULES, Rule

__all__ = [
    "MARKER",
    "TOKEN_RULES",
    "Redactor",
    "Rule",
    "default_redactor",
    "hide_all",
    "redact_alert",
]
