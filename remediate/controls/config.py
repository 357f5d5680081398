"""The ``controls:`` section of the catalog: recurring maintenance windows and breakers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from remediate.alerts import Severity

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def covers(services: list[str], checks: list[str], service: str | None, check_id: str) -> bool:
    """Whether an alert of ``service`` and ``check_id`` falls under a scope; an empty list of
    services means every service (and alerts without one)."""
    if services and service not in services:
        return False
    return any(fnmatchcase(check_id, pattern) for pattern in checks)


class MaintenanceWindow(_Strict):
    """A recurring window: it opens at each time ``cron`` names and lasts ``duration_s``."""

    name: str = Field(pattern=NAME_PATTERN)
    cron: str = Field(description="Five-field cron expression, e.g. '0 2 * * 0'.")
    duration_s: float = Field(gt=0, le=7 * 86400)
    timezone: str = Field(default="UTC", description="IANA zone the cron times are read in.")
    services: list[str] = Field(
        default_factory=list, description="Catalog services it covers; every service when empty."
    )
    checks: list[str] = Field(
        default_factory=lambda: ["*"], min_length=1, description="Check id patterns it covers."
    )
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:
            CronSim(value, datetime(2026, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise ValueError(f"not a valid cron expression: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def opened_at(self, at: float) -> float | None:
        """When the window holding ``at`` (unix seconds) opened; None outside every window."""
        moment = datetime.fromtimestamp(at, ZoneInfo(self.timezone))
        # CronSim starts strictly before its anchor going back; a window opening at ``at``
        # itself counts.
        start = next(CronSim(self.cron, moment + timedelta(seconds=1), reverse=True), None)
        if start is None:
            return None
        opened = start.timestamp()
        return opened if at < opened + self.duration_s else None

    def covers(self, service: str | None, check_id: str) -> bool:
        return covers(self.services, self.checks, service, check_id)


class Breakers(_Strict):
    """Budgets enforced with Prefect global concurrency limits that decay (rate limits)."""

    actions_per_service_per_hour: int | None = Field(
        default=None, ge=1, le=10_000, description="Runbook actions one service may run per hour."
    )
    fix_proposals_per_day: int | None = Field(
        default=None, ge=1, le=100_000, description="Fix proposals (model sessions) per day."
    )
    model_spend_usd_per_day: float | None = Field(
        default=None,
        gt=0,
        le=100_000,
        description="US dollars investigations and fix proposals together may spend per day.",
    )


class DryRun(_Strict):
    """Where runs are shadows: they compute everything and let nothing leave."""

    everything: bool = Field(default=False, description="Every run of this catalog.")
    services: list[str] = Field(default_factory=list, description="Runs of these services.")
    severities: list[Severity] = Field(
        default_factory=list, description="Runs of alerts with these severities."
    )

    def covers(self, service: str | None, severity: Severity) -> bool:
        return self.everything or service in self.services or severity in self.severities


LABEL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$"


class CorrelationRule(_Strict):
    """Alerts whose ``labels`` all carry the same values belong to one incident."""

    name: str = Field(pattern=NAME_PATTERN)
    labels: list[str] = Field(
        min_length=1, max_length=20, description="Label names both alerts carry, equal."
    )

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not re.fullmatch(LABEL_PATTERN, name):
                raise ValueError(f"not a label name: {name!r}")
        if len(set(value)) != len(value):
            raise ValueError("a label is listed twice")
        return value


class Incidents(_Strict):
    """Alerts of different fingerprints that start within ``window_s`` of each other and
    share a catalog dependency (or match a rule) become one incident."""

    window_s: float = Field(
        default=120.0, gt=0, le=86400, description="How far apart two alerts' starts may be."
    )
    dependencies: bool = Field(
        default=True, description="Services sharing a catalog dependency correlate."
    )
    rules: list[CorrelationRule] = Field(default_factory=list)
    wait_s: float = Field(
        default=600.0,
        gt=0,
        le=86400,
        description="How long a run waits for the incident's issue, or its lead for a "
        "member's evidence, before going on without it.",
    )

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, value: list[CorrelationRule]) -> list[CorrelationRule]:
        names = [rule.name for rule in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError("rule name(s) appear twice: " + ", ".join(twice))
        return value


class ControlsConfig(_Strict):
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    breakers: Breakers = Breakers()
    dry_run: DryRun = DryRun()
    incidents: Incidents | None = Field(
        default=None, description="Incidents across services; no correlation when absent."
    )

    def window_for(self, service: str | None, check_id: str, at: float) -> MaintenanceWindow | None:
        return next(
            (
                w
                for w in self.maintenance
                if w.covers(service, check_id) and w.opened_at(at) is not None
            ),
            None,
        )
