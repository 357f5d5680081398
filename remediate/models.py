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

from remediate.fixer.models import FixDecision, FixProposal, PullRequestRef
from remediate.rollback_models import RollbackOutcome
from remediate.runbook_models import ActionOutcome


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
    def occurrence_key(self) -> str:
        """Identity of this delivery: the same occurrence sent twice gives the same key."""
        return f"{self.fingerprint}:{self.id}"

    @classmethod
    def from_sentinel(cls, payload: dict[str, Any], service: str | None = None) -> Alert:
        """Accept a Sentinel ``CheckResult`` or its ``repository_dispatch`` envelope.

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
            source = str(body.get("source") or "veris-sentinel")
        else:
            check = SentinelCheckResult.model_validate(payload)
            alert_id = check.default_alert_id()
            severity_text = None
            labels = {}
            source = "veris-sentinel"
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
            source=source,
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


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    RECOVERED = "recovered"
    UNVERIFIABLE = "unverifiable"


class ProbeFailure(StrEnum):
    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    HTTP_STATUS = "http_status"
    PROTOCOL = "protocol"
    CONTENT = "content"


class ProbeResult(_Frozen):
    service: str
    endpoint: str
    url: str
    healthy: bool
    status_code: int | None = None
    expected_status: int
    latency_ms: float
    failure: ProbeFailure | None = None
    error: str | None = None
    checked_at: AwareDatetime


class Verification(_Frozen):
    verdict: Verdict
    reason: str
    attempts: list[list[ProbeResult]] = Field(default_factory=list)

    @property
    def last_probes(self) -> list[ProbeResult]:
        return self.attempts[-1] if self.attempts else []


class ServiceHealth(_Frozen):
    service: str
    healthy: bool
    probes: list[ProbeResult]


class CheckKind(StrEnum):
    TCP = "tcp"
    DNS = "dns"
    TLS = "tls"


class DependencyCheck(_Frozen):
    """One deeper check: a TCP connect, a DNS lookup or a certificate's expiry."""

    service: str
    kind: CheckKind
    name: str
    target: str
    ok: bool
    slow: bool = False
    latency_ms: float | None = None
    detail: str = ""
    error: str | None = None
    warning: str | None = None
    checked_at: AwareDatetime


class Diagnosis(_Frozen):
    services: list[ServiceHealth]
    checks: list[DependencyCheck] = Field(default_factory=list)

    @property
    def down(self) -> list[DependencyCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def slow(self) -> list[DependencyCheck]:
        return [c for c in self.checks if c.ok and c.slow]

    @property
    def failures_in_order(self) -> list[tuple[datetime, str]]:
        """Every failed probe and check, earliest first, as (time, description)."""
        found = [
            (
                p.checked_at,
                f"{p.service} {p.endpoint}: {p.failure.value if p.failure else 'unhealthy'}",
            )
            for s in self.services
            for p in s.probes
            if not p.healthy
        ]
        found += [
            (c.checked_at, f"{c.service} {c.kind.value} {c.name}: {c.error or 'failed'}")
            for c in self.down
        ]
        return sorted(found, key=lambda item: item[0])

    @property
    def failing(self) -> list[str]:
        return [s.service for s in self.services if not s.healthy]

    @property
    def summary(self) -> str:
        failing = self.failing
        if not self.services:
            return "no services in the catalog to probe"
        if not failing:
            return f"all {len(self.services)} catalog services answer healthy"
        return f"{len(failing)} of {len(self.services)} services unhealthy: {', '.join(failing)}"


class LogFailure(StrEnum):
    HOST_KEY = "host-key"
    AUTH = "auth"
    CREDENTIALS = "credentials"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    SSH = "ssh"


class LogSourceResult(_Frozen):
    """What one log source on one host gave; redacted before it is built."""

    host: str
    endpoint: str = Field(description="user@address:port")
    source: str
    kind: str
    command: str
    exit_status: int | None = None
    exit_signal: str | None = None
    lines: list[str] = Field(default_factory=list)
    stderr: str = ""
    truncated: bool = False
    duration_ms: float
    failure: LogFailure | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.exit_status == 0


class LogBundle(_Frozen):
    service: str
    sources: list[LogSourceResult] = Field(default_factory=list)
    collected_at: AwareDatetime
    duration_ms: float

    @property
    def failed(self) -> list[LogSourceResult]:
        return [s for s in self.sources if not s.ok]

    @property
    def summary(self) -> str:
        hosts = len({s.host for s in self.sources})
        text = f"{len(self.sources)} log source(s) on {hosts} host(s)"
        failed = self.failed
        if failed:
            text += f", {len(failed)} failed"
        return text


class IssueAction(StrEnum):
    OPENED = "opened"
    COMMENTED = "commented"
    REOPENED = "reopened"
    UNCHANGED = "unchanged"


class IssueRef(_Frozen):
    tracker: Literal["local", "github"]
    number: int
    url: str
    action: IssueAction


class OutcomeStatus(StrEnum):
    SELF_RESOLVED = "self-resolved"
    ISSUE_OPENED = "issue-opened"
    ISSUE_UPDATED = "issue-updated"
    RECORDED = "recorded"


class RemediationOutcome(_Frozen):
    alert_id: str
    fingerprint: str
    service: str | None
    status: OutcomeStatus
    verification: Verification | None = None
    diagnosis: Diagnosis | None = None
    logs: LogBundle | None = None
    issue: IssueRef | None = None
    flow_run_id: str | None = None
    fix: FixProposal | None = None
    fix_decision: FixDecision | None = None
    pull_request: PullRequestRef | None = None
    action: ActionOutcome | None = None
    rollback: RollbackOutcome | None = None


def describe_validation_error(error: ValidationError, where: str) -> str:
    """One line per problem: ``where: key.path: message``."""
    lines = []
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{where}: {path}: {problem['msg']}")
    return "\n".join(lines)
