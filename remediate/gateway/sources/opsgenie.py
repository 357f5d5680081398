"""Opsgenie outgoing webhooks (legacy: Atlassian ends Opsgenie support in April 2027).

``Create`` fires and ``Close`` resolves; the alert's ``alias`` (Opsgenie's own dedupe key)
is the fingerprint, hashed since an alias may hold any characters. Every other action
(``Acknowledge``, ``AddNote``...) is answered and ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from remediate.alerts import Alert, AlertStatus, NotAnAlert
from remediate.gateway.formats import clip, severity_from
from remediate.gateway.sources.common import (
    IDENTIFIER,
    built,
    hashed_key,
    split_tags,
    tag_labels,
    validated,
)

MAX_MS = 253_402_300_799_000
"""9999-12-31T23:59:59Z in milliseconds."""
ACTIONS = {"Create": AlertStatus.FIRING, "Close": AlertStatus.RESOLVED}


class OpsgenieAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    alertId: str = Field(pattern=IDENTIFIER)
    alias: str = Field(min_length=1, max_length=512)
    message: str = Field(min_length=1, max_length=10_000)
    tinyId: str = Field(default="", max_length=50)
    entity: str = Field(default="", max_length=1000)
    priority: str = Field(default="", max_length=10)
    tags: list[str] = Field(default_factory=list, max_length=1000)
    createdAt: int | None = Field(default=None, ge=0, le=MAX_MS, description="Epoch ms.")
    updatedAt: int | None = Field(
        default=None, ge=0, le=MAX_MS * 1_000_000, description="Epoch ms, or ns as sent."
    )


class OpsgenieWebhook(BaseModel):
    model_config = ConfigDict(extra="allow")

    action: str = Field(min_length=1, max_length=100)
    alert: OpsgenieAlert
    integrationId: str = Field(default="", max_length=200)


def _ms(value: int | None, default: datetime) -> datetime:
    """Epoch milliseconds; Opsgenie sends ``updatedAt`` in nanoseconds, told apart by size."""
    if value is None:
        return default
    return datetime.fromtimestamp(value / (1e9 if value > MAX_MS else 1e3), UTC)


def opsgenie_alert(payload: Any, source: str, received: datetime) -> Alert:
    """Raises ``NotAnAlert`` for actions that start and resolve nothing; ``received`` is
    used when the alert carries no time."""
    action = payload.get("action") if isinstance(payload, dict) else None
    if isinstance(action, str) and action not in ACTIONS:
        raise NotAnAlert(f"Opsgenie action {clip(action, 100)!r} starts and resolves nothing")
    body = validated(OpsgenieWebhook, payload)
    return built(lambda: _alert(body, source, received), "alert")


def _alert(body: OpsgenieWebhook, source: str, received: datetime) -> Alert:
    alert = body.alert
    status = ACTIONS[body.action]
    fired = _ms(alert.createdAt, received)
    labels = tag_labels(split_tags(alert.tags))
    if alert.entity:
        labels.setdefault("entity", clip(alert.entity, 1000))
    details: dict[str, Any] = {
        "opsgenie": {
            "action": body.action,
            "alert_id": alert.alertId,
            "tiny_id": alert.tinyId,
            "alias": clip(alert.alias, 512),
            "integration_id": body.integrationId,
        }
    }
    if status is AlertStatus.RESOLVED:
        details["ends_at"] = _ms(alert.updatedAt, received).isoformat()
    return Alert(
        id=alert.alertId,
        source=source,
        check_id=clip(alert.message, 200),
        severity=severity_from(alert.priority),
        status=status,
        summary=clip(alert.message),
        details=details,
        labels=labels,
        fired_at=fired,
        fingerprint=hashed_key("alias", alert.alias),
    )
