"""Datadog webhooks with the payload template of ``docs/sources.md``.

Datadog signs nothing and fills every variable in as a string, so each field is checked as
the string it is: ids are digits, ``$DATE`` is epoch milliseconds, ``$ALERT_TRANSITION`` one
of Datadog's transitions. ``$ALERT_CYCLE_KEY`` links a trigger to its recovery: it is the
fingerprint, so ``Recovered`` resolves the run ``Triggered`` started.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from remediate.alerts import Alert, AlertStatus, Severity
from remediate.gateway.formats import clip, severity_from
from remediate.gateway.sources.common import IDENTIFIER, built, split_tags, tag_labels, validated

FIRING = frozenset(
    {"Triggered", "Re-Triggered", "Warn", "Re-Warn", "No Data", "Re-No Data", "Renotify"}
)
RESOLVED = "Recovered"
TRANSITIONS = (*sorted(FIRING), RESOLVED)
DIGITS = r"^[0-9]{1,20}$"
TYPE_SEVERITY = {"error": Severity.ERROR, "warning": Severity.WARNING}
_TITLE_PREFIX = re.compile(r"^(\s*\[[^\]]*\])+\s*")


class DatadogWebhook(BaseModel):
    """The documented template; every value is the string Datadog substitutes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: StrictStr = Field(pattern=DIGITS, description="$ID: the event id.")
    monitor_id: StrictStr = Field(pattern=DIGITS, description="$ALERT_ID: the monitor id.")
    cycle_key: StrictStr = Field(pattern=IDENTIFIER, description="$ALERT_CYCLE_KEY")
    transition: StrictStr = Field(
        pattern=rf"^({'|'.join(map(re.escape, TRANSITIONS))})$", description="$ALERT_TRANSITION"
    )
    title: StrictStr = Field(min_length=1, max_length=1000, description="$ALERT_TITLE")
    status: StrictStr = Field(default="", max_length=10_000, description="$ALERT_STATUS")
    priority: StrictStr = Field(default="", pattern=r"^(P[1-5])?$", description="$ALERT_PRIORITY")
    alert_type: StrictStr = Field(default="", max_length=50, description="$ALERT_TYPE")
    date: StrictStr = Field(pattern=r"^[0-9]{10,13}$", description="$DATE: epoch milliseconds.")
    tags: StrictStr = Field(default="", max_length=10_000, description="$TAGS, comma-separated.")
    scope: StrictStr = Field(default="", max_length=10_000, description="$ALERT_SCOPE")
    metric: StrictStr = Field(default="", max_length=1000, description="$ALERT_METRIC")
    hostname: StrictStr = Field(default="", max_length=1000, description="$HOSTNAME")
    link: StrictStr = Field(default="", max_length=2000, description="$LINK")


def monitor_name(title: str) -> str:
    """``[Triggered on {host:web-1}] [P2] Disk full`` -> ``Disk full``."""
    return _TITLE_PREFIX.sub("", title).strip() or title


def epoch(value: str) -> datetime:
    """Datadog's ``$DATE``: milliseconds (13 digits) or seconds (10)."""
    number = int(value)
    return datetime.fromtimestamp(number / 1000 if len(value) > 10 else number, UTC)


def datadog_alert(payload: Any, source: str) -> Alert:
    body = validated(DatadogWebhook, payload)
    return built(lambda: _alert(body, source))


def _alert(body: DatadogWebhook, source: str) -> Alert:
    resolved = body.transition == RESOLVED
    at = epoch(body.date)
    default = TYPE_SEVERITY.get(body.alert_type, Severity.WARNING)
    tags = [t.strip() for t in body.tags.split(",") if t.strip()]
    labels = tag_labels(split_tags(tags))
    if body.hostname:
        labels.setdefault("host", clip(body.hostname, 1000))
    details: dict[str, Any] = {
        "datadog": {
            "event_id": body.id,
            "monitor_id": body.monitor_id,
            "transition": body.transition,
            "alert_type": body.alert_type,
            "metric": body.metric,
            "scope": body.scope,
            "link": body.link,
        }
    }
    if resolved:
        details["ends_at"] = at.isoformat()
    return Alert(
        id=body.id,
        source=source,
        check_id=clip(monitor_name(body.title), 200),
        severity=severity_from(body.priority, default) if body.priority else default,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        summary=clip(body.status or body.title),
        details=details,
        labels=labels,
        fired_at=at,
        fingerprint=body.cycle_key,
    )
