"""Sentry integration-platform webhooks, by their ``Sentry-Hook-Resource`` header.

``event_alert`` (an issue alert rule fired) fires with the issue as fingerprint;
``metric_alert`` fires on ``critical`` and ``warning`` and resolves on ``resolved``, with the
metric incident as fingerprint; ``issue`` with action ``resolved`` resolves the issue's run.
Every other resource or action is answered and ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from remediate.alerts import Alert, AlertStatus, NotAnAlert, Severity
from remediate.gateway.formats import PayloadError, clip, severity_from
from remediate.gateway.sources.common import IDENTIFIER, built, tag_labels, validated

RESOURCE_HEADER = "Sentry-Hook-Resource"


class SentryEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    event_id: str = Field(pattern=IDENTIFIER)
    issue_id: str = Field(pattern=IDENTIFIER)
    title: str = Field(min_length=1, max_length=10_000)
    level: str = Field(default="error", max_length=50)
    culprit: str = Field(default="", max_length=10_000)
    web_url: str = Field(default="", max_length=2000)
    datetime: AwareDatetime
    tags: list[tuple[str, str]] = Field(default_factory=list, max_length=1000)


class SentryIssueAlertData(BaseModel):
    model_config = ConfigDict(extra="allow")

    event: SentryEvent
    triggered_rule: str = Field(default="", max_length=1000)


class IssueAlert(BaseModel):
    """``Sentry-Hook-Resource: event_alert``."""

    model_config = ConfigDict(extra="allow")

    action: Literal["triggered"]
    data: SentryIssueAlertData


class SentryAlertRule(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | int
    name: str = Field(min_length=1, max_length=1000)


class SentryMetricIncident(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=IDENTIFIER)
    title: str = Field(default="", max_length=1000)
    date_started: AwareDatetime
    date_detected: AwareDatetime | None = None
    date_closed: AwareDatetime | None = None
    alert_rule: SentryAlertRule


class SentryMetricAlertData(BaseModel):
    model_config = ConfigDict(extra="allow")

    metric_alert: SentryMetricIncident
    description_title: str = Field(default="", max_length=1000)
    description_text: str = Field(default="", max_length=10_000)
    web_url: str = Field(default="", max_length=2000)


class MetricAlert(BaseModel):
    """``Sentry-Hook-Resource: metric_alert``."""

    model_config = ConfigDict(extra="allow")

    action: Literal["critical", "warning", "resolved"]
    data: SentryMetricAlertData


class SentryIssue(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=IDENTIFIER)
    title: str = Field(min_length=1, max_length=10_000)
    level: str = Field(default="error", max_length=50)
    lastSeen: AwareDatetime
    web_url: str = Field(default="", max_length=2000)


class SentryIssueData(BaseModel):
    model_config = ConfigDict(extra="allow")

    issue: SentryIssue


class IssueChange(BaseModel):
    """``Sentry-Hook-Resource: issue``; only ``resolved`` is used."""

    model_config = ConfigDict(extra="allow")

    action: str = Field(min_length=1, max_length=50)
    data: SentryIssueData


def resource(value: str | None) -> str:
    if not value:
        raise PayloadError.single(RESOURCE_HEADER, "missing; Sentry sends it with every webhook")
    return value


def sentry_alert(payload: Any, source: str, hook_resource: str) -> Alert:
    """Raises ``NotAnAlert`` for resources and actions that start and resolve nothing."""
    if hook_resource == "event_alert":
        issue_alert = validated(IssueAlert, payload)
        return built(lambda: _issue_alert(issue_alert, source), "data.event")
    if hook_resource == "metric_alert":
        metric = validated(MetricAlert, payload)
        return built(lambda: _metric_alert(metric, source), "data.metric_alert")
    if hook_resource == "issue":
        action = payload.get("action") if isinstance(payload, dict) else None
        if action != "resolved":
            raise NotAnAlert(f"Sentry issue action {action!r} starts and resolves nothing")
        change = validated(IssueChange, payload)
        return built(lambda: _issue_resolved(change, source), "data.issue")
    raise NotAnAlert(f"Sentry resource {clip(hook_resource, 100)!r} starts and resolves nothing")


def _level(level: str) -> Severity:
    return severity_from(level, Severity.INFO if level == "debug" else Severity.WARNING)


def _issue_alert(body: IssueAlert, source: str) -> Alert:
    event = body.data.event
    return Alert(
        id=event.event_id,
        source=source,
        check_id=clip(event.title, 200),
        severity=_level(event.level),
        status=AlertStatus.FIRING,
        summary=clip(event.title if not event.culprit else f"{event.title} ({event.culprit})"),
        details={
            "sentry": {
                "resource": "event_alert",
                "issue_id": event.issue_id,
                "event_id": event.event_id,
                "web_url": event.web_url,
                "triggered_rule": body.data.triggered_rule,
            }
        },
        labels=tag_labels(list(event.tags)),
        fired_at=event.datetime,
        fingerprint=f"issue-{event.issue_id}",
    )


def _metric_alert(body: MetricAlert, source: str) -> Alert:
    incident = body.data.metric_alert
    resolved = body.action == "resolved"
    details: dict[str, Any] = {
        "sentry": {
            "resource": "metric_alert",
            "action": body.action,
            "incident_id": incident.id,
            "alert_rule_id": str(incident.alert_rule.id),
            "web_url": body.data.web_url,
        }
    }
    ended: datetime | None = incident.date_closed
    if resolved and ended is not None:
        details["ends_at"] = ended.isoformat()
    summary = " ".join(t for t in (body.data.description_title, body.data.description_text) if t)
    return Alert(
        id=f"{incident.id}-{body.action}",
        source=source,
        check_id=clip(incident.alert_rule.name, 200),
        severity=Severity.WARNING if body.action == "warning" else Severity.CRITICAL,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        summary=clip(summary or incident.title),
        details=details,
        fired_at=incident.date_detected or incident.date_started,
        fingerprint=f"metric-{incident.id}",
    )


def _issue_resolved(body: IssueChange, source: str) -> Alert:
    issue = body.data.issue
    return Alert(
        id=f"{issue.id}-resolved-{int(issue.lastSeen.timestamp())}",
        source=source,
        check_id=clip(issue.title, 200),
        severity=_level(issue.level),
        status=AlertStatus.RESOLVED,
        summary=clip(issue.title),
        details={"sentry": {"resource": "issue", "issue_id": issue.id, "web_url": issue.web_url}},
        fired_at=issue.lastSeen,
        fingerprint=f"issue-{issue.id}",
    )
