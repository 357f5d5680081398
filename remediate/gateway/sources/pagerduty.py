"""PagerDuty v3 webhooks: one event per delivery, under ``event``.

``incident.triggered`` and ``incident.reopened`` fire, ``incident.resolved`` resolves;
``incident.acknowledged`` is acknowledged (counted and recorded on the incident's run and
issue; it starts and resolves nothing); any
other event type is answered and ignored. The incident's id is the fingerprint, so its
resolution finds the run its trigger started; the event's id (signed, the same on every
retry, as the unsigned ``X-Webhook-Id`` header is) is the alert's id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from remediate.alerts import Alert, AlertStatus, NotAnAlert, Severity
from remediate.gateway.formats import PayloadError, clip, severity_from
from remediate.gateway.sources.common import IDENTIFIER, Acknowledged, built, validated

FIRING = frozenset({"incident.triggered", "incident.reopened"})
RESOLVED = "incident.resolved"
ACKNOWLEDGED = "incident.acknowledged"
WEBHOOK_ID_HEADER = "X-Webhook-Id"


class PagerDutyReference(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(default="", max_length=200)
    summary: str = Field(default="", max_length=1000)
    html_url: str = Field(default="", max_length=2000)


class PagerDutyIncident(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=IDENTIFIER)
    status: str = Field(default="", max_length=50)
    title: str = Field(min_length=1, max_length=10_000)
    urgency: str = Field(default="", max_length=50)
    incident_key: str | None = Field(default=None, max_length=1000)
    html_url: str = Field(default="", max_length=2000)
    number: int | None = None
    created_at: AwareDatetime | None = None
    service: PagerDutyReference | None = None
    priority: PagerDutyReference | None = None


class PagerDutyEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=IDENTIFIER)
    event_type: str = Field(min_length=1, max_length=100)
    resource_type: str = Field(min_length=1, max_length=100)
    occurred_at: AwareDatetime
    agent: PagerDutyReference | None = None
    data: dict[str, Any]


class PagerDutyWebhook(BaseModel):
    """The body of a PagerDuty v3 webhook delivery."""

    model_config = ConfigDict(extra="allow")

    event: PagerDutyEvent


def webhook_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not (value.isascii() and value.isprintable()) or not 0 < len(value) <= 200:
        raise PayloadError.single(WEBHOOK_ID_HEADER, "expected printable ASCII, 1-200 characters")
    return value


def pagerduty_alert(payload: Any, source: str, delivery_id: str | None = None) -> Alert:
    """Raises ``Acknowledged`` or ``NotAnAlert`` for events that start and resolve nothing,
    ``PayloadError`` naming the field for a malformed one."""
    event = validated(PagerDutyWebhook, payload).event
    kind = event.event_type
    agent = event.agent.summary if event.agent else ""
    if kind not in FIRING and kind not in (RESOLVED, ACKNOWLEDGED):
        raise NotAnAlert(f"PagerDuty event {kind!r} starts and resolves nothing")
    if event.resource_type != "incident":
        raise PayloadError.single("event.resource_type", f"expected 'incident' for {kind}")
    incident = validated(PagerDutyIncident, event.data, "event.data")
    alert = built(lambda: _alert(event, incident, source, delivery_id), "event.data")
    if kind == ACKNOWLEDGED:
        who = agent or "PagerDuty"
        raise Acknowledged(
            f"{kind} by {who}: starts and resolves nothing", alert, who, event.occurred_at, event.id
        )
    return alert


def _severity(incident: PagerDutyIncident) -> Severity:
    if incident.priority is not None and incident.priority.summary:
        return severity_from(incident.priority.summary, _by_urgency(incident.urgency))
    return _by_urgency(incident.urgency)


def _by_urgency(urgency: str) -> Severity:
    return Severity.CRITICAL if urgency == "high" else Severity.WARNING


def _alert(
    event: PagerDutyEvent, incident: PagerDutyIncident, source: str, delivery_id: str | None
) -> Alert:
    resolved = event.event_type == RESOLVED
    service = incident.service
    details: dict[str, Any] = {
        "pagerduty": {
            "event_id": event.id,
            "event_type": event.event_type,
            "webhook_id": delivery_id,
            "incident_number": incident.number,
            "incident_url": incident.html_url,
            "incident_key": incident.incident_key,
            "service": service.summary if service else "",
            "service_id": service.id if service else "",
            "agent": event.agent.summary if event.agent else "",
        }
    }
    if resolved:
        details["ends_at"] = event.occurred_at.isoformat()
    labels = {"urgency": incident.urgency} if incident.urgency else {}
    if service is not None and service.summary:
        labels["service"] = clip(service.summary, 1000)
    fired: datetime = incident.created_at or event.occurred_at
    return Alert(
        id=event.id,
        source=source,
        check_id=clip(incident.title, 200),
        severity=_severity(incident),
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        summary=clip(incident.title),
        details=details,
        labels=labels,
        fired_at=fired,
        fingerprint=incident.id,
    )
