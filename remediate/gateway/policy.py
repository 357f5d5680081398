"""The ``gateway:`` section of the catalog."""

from __future__ import annotations

from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field

from remediate.alerts import Severity


class Threshold(BaseModel):
    """Start a remediation only once ``occurrences`` alerts of one fingerprint arrived within
    ``window_s``; earlier ones wait in the outbox as ``held``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checks: list[str] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        description="Check id patterns (shell-style, e.g. S2-*) this threshold applies to.",
    )
    severity: Severity | None = Field(
        default=None, description="Only alerts of this severity; any severity when absent."
    )
    occurrences: int = Field(ge=1, le=10_000)
    window_s: float = Field(gt=0, le=30 * 86400)

    def applies_to(self, check_id: str, severity: Severity) -> bool:
        if self.severity is not None and severity is not self.severity:
            return False
        return any(fnmatchcase(check_id, pattern) for pattern in self.checks)


class Flapping(BaseModel):
    """``transitions`` firing/resolved changes of one fingerprint within ``window_s`` mark it
    flapping: one run tagged ``flapping`` instead of one run per transition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transitions: int = Field(ge=2, le=10_000)
    window_s: float = Field(gt=0, le=30 * 86400)


class GatewayPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_per_minute: int = Field(
        default=10,
        ge=1,
        le=100_000,
        description="New remediation runs started per minute at most; alerts over the cap "
        "wait in the outbox in arrival order.",
    )
    thresholds: list[Threshold] = Field(
        default_factory=list,
        description="The first threshold matching an alert's check id and severity applies.",
    )
    flapping: Flapping | None = None

    def threshold_for(self, check_id: str, severity: Severity) -> Threshold | None:
        return next((t for t in self.thresholds if t.applies_to(check_id, severity)), None)
