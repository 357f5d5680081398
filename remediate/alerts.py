"""Typed domain models: the alert every step starts from and the result of each step."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


SENTINEL_SEVERITY = {"fail": Severity.CRITICAL, "warn": Severity.WARNING}


class NotAnAlert(ValueError):
    """The payload is valid but describes a passing check, which never starts a remediation."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def utc(value: datetime) -> datetime:
    """Naive timestamps are UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range once converted to UTC") from exc


def compute_fingerprint(source: str, check_id: str, service: str | None) -> str:
    identity = json.dumps([source, check_id, service or ""], separators=(",", ":"))
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def unambiguous_key(*parts: str) -> str:
    """A key of several fields that no other fields give, whatever characters they hold."""
    encoded = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode()).hexdigest()


class Alert(_Frozen):
    """A normalised alert. One alert becomes one remediation flow run."""

    id: str = Field(min_length=1, max_length=200, description="The sender's id of this occurrence.")
    source: str = Field(min_length=1, max_length=100, description="Which monitor sent it.")
    check_id: str = Field(min_length=1, max_length=200)
    service: str | None = Field(default=None, max_length=200)
    severity: Severity
    status: AlertStatus = AlertStatus.FIRING
    summary: str = Field(max_length=10_000)
    details: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    fired_at: AwareDatetime
    fingerprint: str = Field(
        default="",
        pattern=r"^[0-9a-zA-Z_.:-]{0,128}$",
        description="Identity of the problem across occurrences; derived when not given.",
    )

    @field_validator("fired_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return utc(value)

    @model_validator(mode="after")
    def _derive_fingerprint(self) -> Self:
        if not self.fingerprint:
            object.__setattr__(
                self, "fingerprint", compute_fingerprint(self.source, self.check_id, self.service)
            )
        return self

    def with_service(self, service: str) -> Alert:
        """The same alert attributed to a catalog service (the fingerprint follows)."""
        data = self.model_dump()
        data["service"] = service
        if self.fingerprint == compute_fingerprint(self.source, self.check_id, self.service):
            data["fingerprint"] = ""
        return Alert.model_validate(data)

    @property
    def problem_key(self) -> str:
        """Identity of the problem across occurrences: its source and fingerprint, so that
        one source's alerts never count towards, resolve or flap another's."""
        return unambiguous_key(self.source, self.fingerprint)

    @property
    def occurrence_key(self) -> str:
        """Identity of this delivery: the same occurrence sent twice gives the same key."""
        return unambiguous_key(self.source, self.fingerprint, self.id)

    def delivery_key(self) -> str:
        """Identity of this occurrence in this status (firing and resolved are distinct)."""
        return unambiguous_key(self.source, self.fingerprint, self.id, self.status.value)

    @classmethod
    def from_sentinel(
        cls, payload: dict[str, Any], service: str | None = None, source: str | None = None
    ) -> Alert:
        """Accept a Sentinel ``CheckResult`` or its ``repository_dispatch`` envelope;
        ``source``, when given, replaces the one the envelope names.

        Raises ``NotAnAlert`` for a passing check and ``ValidationError`` for a malformed one.
        """
        if "client_payload" in payload or "event_type" in payload:
            dispatch = SentinelDispatch.model_validate(payload)
            body = dispatch.client_payload
            check = SentinelCheckResult.model_validate(
                {
                    key: body.get(key)
                    for key in ("check_id", "timestamp", "status", "latency_ms", "message")
                    if key in body
                }
                | {"details": body.get("details")}
            )
            alert_id = str(body.get("alert_id") or check.default_alert_id())
            severity_text = body.get("severity")
            labels = {
                k: str(body[k]) for k in ("environment",) if isinstance(body.get(k), str | int)
            }
            named = str(body.get("source") or "veris-sentinel")
        else:
            check = SentinelCheckResult.model_validate(payload)
            alert_id = check.default_alert_id()
            severity_text = None
            labels = {}
            named = "veris-sentinel"
        if check.status == "pass":
            raise NotAnAlert(f"check {check.check_id} passed; a passing check is not an alert")
        severity = (
            Severity(severity_text)
            if isinstance(severity_text, str) and severity_text in set(Severity)
            else SENTINEL_SEVERITY[check.status]
        )
        details = dict(check.details or {})
        details["latency_ms"] = check.latency_ms
        return cls(
            id=alert_id,
            source=named if source is None else source,
            check_id=check.check_id,
            service=service,
            severity=severity,
            summary=check.message,
            details=details,
            labels=labels,
            fired_at=utc(check.timestamp),
        )


class SentinelCheckResult(BaseModel):
    """Sentinel's ``CheckResult`` as it is sent (extra keys tolerated)."""

    model_config = ConfigDict(extra="allow")

    check_id: str = Field(min_length=1, max_length=200)
    timestamp: datetime
    status: Literal["pass", "warn", "fail"]
    latency_ms: float = 0.0
    message: str = Field(default="", max_length=10_000)
    details: dict[str, Any] | None = None

    def default_alert_id(self) -> str:
        return f"{self.check_id}-{int(utc(self.timestamp).timestamp())}"


class SentinelDispatch(BaseModel):
    """GitHub ``repository_dispatch`` envelope used by Sentinel's webhook alerter."""

    event_type: Literal["sentinel-alert"]
    client_payload: dict[str, Any]


def describe_validation_error(error: ValidationError, where: str) -> str:
    """One line per problem: ``where: key.path: message``."""
    lines = []
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{where}: {path}: {problem['msg']}")
    return "\n".join(lines)
