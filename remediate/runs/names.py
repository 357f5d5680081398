"""Run names a person can read in a run list: check, service and the firing time in UTC.

Both places that name a remediation run use this: the flow (``flow_run_name``) and the
REST calls that create runs (gateway, ``remediate send``). Alert text is untrusted, so
non-printable characters are dropped and each part is bounded.
"""

from __future__ import annotations

from datetime import UTC

from remediate.alerts import Alert

MAX_PART = 60


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable()).strip()[:MAX_PART] or "-"


def run_name(alert: Alert) -> str:
    """``S1-probes · shop-api · 2026-01-01 10:00:05 UTC``."""
    when = alert.fired_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    service = _printable(alert.service) if alert.service else "no service"
    return f"{_printable(alert.check_id)} · {service} · {when}"
