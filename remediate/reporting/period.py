"""Report windows: ``7d``, ``24h``, ``30m``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from remediate.alerts import utc
from remediate.reporting.history import read_records
from remediate.reporting.metrics import RemediationReport, compute

_DURATION = re.compile(r"^(\d{1,5})([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_window(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"--since: expected a positive duration such as 7d, 24h or 30m, got {text!r}"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


async def build_report(
    api_url: str, window: timedelta, credential: str | None = None
) -> RemediationReport:
    until = utc(datetime.now(UTC))
    since = until - window
    return compute(await read_records(api_url, since, until, credential), since, until)
