"""Findings per fingerprint from remediation run records."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field

from remediate.capacity.forecast import theil_sen
from remediate.reporting.history import RunRecord
from remediate.runs.tags import Key, tag_value


class Kind(StrEnum):
    RECURRING = "recurring"
    FLAPPING = "flapping"
    INCREASING = "increasing"
    NOISE = "noise"


class Thresholds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    recurring_min: int = Field(default=5, ge=2, description="occurrences in the window")
    flapping_changes: int = Field(default=3, ge=2, description="verdict changes in the window")
    increasing_per_day: float = Field(default=1.0, gt=0, description="trend of daily counts")
    increasing_days: int = Field(default=3, ge=2, description="days with runs needed")
    noise_min: int = Field(default=3, ge=2, description="runs, all self-resolved")


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    fingerprint: str
    check: str | None
    service: str | None
    occurrences: int
    runs: list[RunRecord]
    daily: list[tuple[date, int]]
    detail: str


def daily_counts(runs: list[RunRecord], since: datetime, until: datetime) -> list[tuple[date, int]]:
    counts: dict[date, int] = {}
    day = since.date()
    while day <= until.date():
        counts[day] = 0
        day += timedelta(days=1)
    for run in runs:
        counts[run.created.date()] = counts.get(run.created.date(), 0) + run.occurrences
    return sorted(counts.items())


def _verdict(run: RunRecord) -> str | None:
    return "recovered" if run.self_resolved else run.verdict


def verdict_changes(runs: list[RunRecord]) -> int:
    verdicts = [v for v in (_verdict(r) for r in runs) if v in ("confirmed", "recovered")]
    return sum(a != b for a, b in pairwise(verdicts))


def _increase_per_day(daily: list[tuple[date, int]]) -> float:
    series = [(datetime.combine(d, time(), UTC), float(n)) for d, n in daily]
    return theil_sen(series).slope_per_s * 86400 if len(series) >= 2 else 0.0


def find_patterns(
    records: list[RunRecord], since: datetime, until: datetime, limits: Thresholds
) -> list[Finding]:
    groups: dict[str, list[RunRecord]] = {}
    for record in sorted(records, key=lambda r: r.created):
        if record.fingerprint:
            groups.setdefault(record.fingerprint, []).append(record)
    findings = []
    for fingerprint, runs in sorted(groups.items()):
        occurrences = sum(r.occurrences for r in runs)
        daily = daily_counts(runs, since, until)
        changes = verdict_changes(runs)
        increase = _increase_per_day(daily)
        active_days = sum(n > 0 for _, n in daily)
        found: list[tuple[Kind, str]] = []
        if len(runs) >= limits.noise_min and all(r.self_resolved for r in runs):
            found.append((Kind.NOISE, f"all {len(runs)} runs self-resolved"))
        if occurrences >= limits.recurring_min:
            found.append((Kind.RECURRING, f"{occurrences} occurrences in {len(runs)} runs"))
        if changes >= limits.flapping_changes:
            found.append((Kind.FLAPPING, f"verdict changed {changes} times in {len(runs)} runs"))
        if active_days >= limits.increasing_days and increase >= limits.increasing_per_day:
            found.append((Kind.INCREASING, f"daily count rising by {increase:.1f} per day"))
        for kind, detail in found:
            findings.append(
                Finding(
                    kind=kind,
                    fingerprint=fingerprint,
                    check=tag_value(runs[-1].tags, Key.CHECK),
                    service=runs[-1].service,
                    occurrences=occurrences,
                    runs=runs,
                    daily=daily,
                    detail=detail,
                )
            )
    return findings
