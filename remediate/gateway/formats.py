"""Normalisers from each sender's payload to ``Alert``; every error names the offending field."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remediate.alerts import Alert, AlertStatus, NotAnAlert, Severity, utc
from remediate.gateway.limits import RequestLimits

SUMMARY_LIMIT = 10_000
LABEL_LIMIT = 1_000
MAX_DEPTH = 32
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "error": Severity.ERROR,
    "err": Severity.ERROR,
    "major": Severity.ERROR,
    "high": Severity.ERROR,
    "p2": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "minor": Severity.WARNING,
    "medium": Severity.WARNING,
    "p3": Severity.WARNING,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
    "p4": Severity.INFO,
    "p5": Severity.INFO,
}


class PayloadError(ValueError):
    """A malformed payload; ``problems`` holds ``(field path, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems

    @classmethod
    def single(cls, field: str, message: str) -> PayloadError:
        return cls([(field, message)])

    @classmethod
    def from_validation(cls, error: ValidationError, prefix: str = "") -> PayloadError:
        problems = []
        for problem in error.errors(include_url=False):
            path = ".".join(str(part) for part in problem["loc"])
            field = ".".join(p for p in (prefix, path) if p) or "body"
            problems.append((field, problem["msg"]))
        return cls(problems)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, nesting at most ``MAX_DEPTH`` levels."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError.single("body", f"not UTF-8 at byte {exc.start}") from exc
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise PayloadError.single("body", f"JSON nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:
        raise PayloadError.single("body", f"not valid JSON: {exc}") from exc
    if _depth_exceeds(value, MAX_DEPTH):
        raise PayloadError.single("body", f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    level: list[Any] = [value]
    depth = 0
    while level:
        containers = [v for v in level if isinstance(v, dict | list)]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for container in containers
            for child in (container.values() if isinstance(container, dict) else container)
        ]
    return False


def clip(text: str, limit: int = SUMMARY_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def severity_from(value: object, default: Severity = Severity.WARNING) -> Severity:
    if isinstance(value, str):
        return SEVERITY_WORDS.get(value.strip().lower(), default)
    return default


def require_object(payload: Any, field: str = "body") -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise PayloadError.single(field, f"expected a JSON object, got {_kind(payload)}")
    return payload


def _kind(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), "null")


def claimed_sentinel_source(payload: Any) -> str | None:
    """The source a ``repository_dispatch`` envelope names, if any."""
    inner = payload.get("client_payload") if isinstance(payload, dict) else None
    claim = inner.get("source") if isinstance(inner, dict) else None
    return claim if isinstance(claim, str) and claim else None


def claimed_generic_source(payload: Any) -> str | None:
    claim = payload.get("source") if isinstance(payload, dict) else None
    return claim if isinstance(claim, str) else None


def sentinel_alert(payload: Any, source: str = "veris-sentinel") -> Alert:
    """A Sentinel ``CheckResult`` or its ``repository_dispatch`` envelope, from ``source``.

    Raises ``NotAnAlert`` for a passing check, ``PayloadError`` for a malformed payload.
    """
    body = dict(require_object(payload))
    if isinstance(body.get("client_payload"), dict):
        inner = dict(body["client_payload"])
        if isinstance(inner.get("message"), str):
            inner["message"] = clip(inner["message"])
        body["client_payload"] = inner
    elif isinstance(body.get("message"), str):
        body["message"] = clip(body["message"])
    try:
        return Alert.from_sentinel(body, source=source)
    except ValidationError as exc:
        raise PayloadError.from_validation(exc) from exc
    except NotAnAlert:
        raise
    except (TypeError, ValueError) as exc:
        raise PayloadError.single("body", str(exc)) from exc


class _AMAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field(default="", pattern=r"^[0-9a-zA-Z_.:-]{0,128}$")


class AlertmanagerGroup(BaseModel):
    model_config = ConfigDict(extra="allow")

    receiver: str = ""
    status: AlertStatus
    alerts: list[_AMAlert] = Field(min_length=1, max_length=1000)
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    version: str = "4"
    groupKey: str = ""
    truncatedAlerts: int = 0


def _labels_fingerprint(labels: dict[str, str]) -> str:
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_GROUP_KEYS = ("receiver", "groupKey", "externalURL")
_GRAFANA_ALERT_KEYS = ("silenceURL", "dashboardURL", "panelURL", "values", "valueString")
_GRAFANA_GROUP_KEYS = ("orgId", "title", "state")


def alertmanager_alerts(
    payload: Any, source: str = "alertmanager", limits: RequestLimits | None = None
) -> list[Alert]:
    """One ``Alert`` per alert of an Alertmanager v4 (or Grafana v1) webhook group.

    Raises ``OverLimit`` before building them when ``limits`` would be exceeded."""
    body = require_object(payload)
    if limits is not None and isinstance(body.get("alerts"), list):
        limits.check_count(len(body["alerts"]))
    try:
        group = AlertmanagerGroup.model_validate(body)
    except ValidationError as exc:
        raise PayloadError.from_validation(exc) from exc
    extra_group = group.model_extra or {}
    if limits is not None:
        copied = {key: getattr(group, key) for key in _GROUP_KEYS}
        copied |= {key: extra_group[key] for key in _GRAFANA_GROUP_KEYS if key in extra_group}
        limits.check_copies(len(json.dumps(copied, default=str)), len(group.alerts))
    alerts = []
    for index, item in enumerate(group.alerts):
        labels = {clip(k, 200): clip(v, LABEL_LIMIT) for k, v in item.labels.items()}
        fingerprint = item.fingerprint or _labels_fingerprint(item.labels)
        starts = item.startsAt if item.startsAt.tzinfo else item.startsAt.replace(tzinfo=UTC)
        annotations = item.annotations
        summary = (
            annotations.get("summary")
            or annotations.get("description")
            or annotations.get("message")
            or labels.get("alertname", "")
        )
        details: dict[str, Any] = {
            "annotations": annotations,
            "generator_url": item.generatorURL,
            "starts_at": starts.isoformat(),
            "group": {key: getattr(group, key) for key in _GROUP_KEYS},
        }
        if item.endsAt is not None and item.endsAt.replace(tzinfo=UTC) > ZERO_TIME:
            details["ends_at"] = item.endsAt.isoformat()
        extra_alert = item.model_extra or {}
        for key in _GRAFANA_ALERT_KEYS:
            if key in extra_alert:
                details[key] = extra_alert[key]
        for key in _GRAFANA_GROUP_KEYS:
            if key in extra_group:
                details["group"][key] = extra_group[key]
        try:
            alerts.append(
                Alert(
                    id=f"{fingerprint}-{int(starts.timestamp())}",
                    source=source,
                    check_id=clip(labels.get("alertname") or "unnamed-alert", 200),
                    severity=severity_from(labels.get("severity")),
                    status=item.status,
                    summary=clip(summary),
                    details=details,
                    labels=labels,
                    fired_at=starts,
                    fingerprint=fingerprint,
                )
            )
        except ValidationError as exc:
            raise PayloadError.from_validation(exc, prefix=f"alerts.{index}") from exc
    return alerts


def grafana_alerts(
    payload: Any, source: str = "grafana", limits: RequestLimits | None = None
) -> list[Alert]:
    """Grafana unified alerting webhook: Alertmanager's shape plus Grafana's extra fields."""
    return alertmanager_alerts(payload, source, limits)


class GenericAlert(BaseModel):
    """The documented JSON shape for any other sender."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="The sender's id of this occurrence.")
    source: str = Field(default="generic", min_length=1, max_length=100)
    check_id: str = Field(min_length=1, max_length=200, description="What is failing.")
    service: str | None = Field(default=None, max_length=200)
    severity: Severity = Severity.WARNING
    status: AlertStatus = AlertStatus.FIRING
    summary: str = Field(default="", max_length=100_000)
    details: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    fired_at: datetime | None = Field(default=None, description="Defaults to the time received.")
    fingerprint: str = Field(
        default="",
        pattern=r"^[0-9a-zA-Z_.:-]{0,128}$",
        description="Identity of the problem across occurrences; derived when empty.",
    )


def generic_alert(payload: Any, now: datetime | None = None, source: str | None = None) -> Alert:
    """The ``GenericAlert`` shape; ``source`` (the one its credential speaks for) replaces
    whatever the payload says."""
    body = require_object(payload)
    try:
        generic = GenericAlert.model_validate(body)
        data = generic.model_dump()
        if source is not None:
            data["source"] = source
        data["summary"] = clip(generic.summary)
        data["fired_at"] = utc(generic.fired_at or now or datetime.now(UTC))
        return Alert.model_validate(data)
    except ValidationError as exc:
        raise PayloadError.from_validation(exc) from exc
    except ValueError as exc:
        raise PayloadError.single("fired_at", str(exc)) from exc
