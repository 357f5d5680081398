"""The plan's success metrics computed from remediation run records."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from remediate.reporting.history import RunRecord
from remediate.runs.tags import Flag, Judged, Key, Publish, Would, tag, tag_value, tag_values

ALERT_TO_ISSUE_TARGET_S = 120.0
FIX_GENERATION_TARGET_S = 600.0
ROLLBACK_TARGET_PCT = 5.0
COVERAGE_TARGET_PCT = 80.0
ACTIONS_UNDONE = ("failed-undone", "failed-undo-failed")
ACTIONS_RAN = ("succeeded", "failed-no-undo", *ACTIONS_UNDONE)


class Figure(BaseModel):
    """One metric. ``value`` None means the system does not record it (or nothing to measure)."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    value: float | None
    unit: str = ""
    target: str | None = None
    met: bool | None = None
    note: str = ""


class Day(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    runs: int
    received: int
    self_resolved: int
    confirmed: int
    issues: int
    proposals: int


class RemediationReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    since: datetime
    until: datetime
    figures: list[Figure]
    days: list[Day]
    alert_to_issue_s: list[float] = Field(default_factory=list)
    fired_to_issue_s: list[float] = Field(default_factory=list)
    fix_generation_s: list[float] = Field(default_factory=list)

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _seconds(
    records: list[RunRecord],
    start: Callable[[RunRecord], datetime | None],
    end: Callable[[RunRecord], datetime | None],
) -> list[float]:
    found = []
    for r in records:
        a, b = start(r), end(r)
        if a is not None and b is not None:
            found.append((b - a).total_seconds())
    return found


def _count(key: str, label: str, value: int, note: str = "") -> Figure:
    return Figure(key=key, label=label, value=float(value), unit="", note=note)


def _below(
    key: str, label: str, value: float | None, limit: float, unit: str, target: str, note: str = ""
) -> Figure:
    met = None if value is None else value < limit
    return Figure(key=key, label=label, value=value, unit=unit, target=target, met=met, note=note)


def _cost(record: RunRecord) -> float:
    value = tag_value(record.tags, Key.INVESTIGATION_COST)
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


def investigation_figures(records: list[RunRecord]) -> list[Figure]:
    """How many investigations ran, what they cost, how often the catalog action they
    proposed was the one a person approved, and how approvers judged their leading
    hypothesis."""
    statuses = [tag_value(r.tags, Key.INVESTIGATION) for r in records]
    ran = sum(status in ("completed", "failed") for status in statuses)
    completed = sum(status == "completed" for status in statuses)
    suggested = [r for r in records if tag_value(r.tags, Key.INVESTIGATION_ACTION) is not None]
    approved = sum(
        tag_value(r.tags, Key.INVESTIGATION_ACTION) == tag_value(r.tags, Key.ACTION)
        and tag_value(r.tags, Key.ACTION_APPROVAL) == "approved"
        for r in suggested
    )
    judged = [tag_value(r.tags, Key.INVESTIGATION_JUDGED) for r in records]
    return [
        _count("investigations", "investigations run", ran, "model sessions started"),
        _count("investigations_completed", "investigations completed", completed),
        Figure(
            key="investigation_cost",
            label="investigation cost",
            value=round(sum(_cost(r) for r in records), 6),
            unit="USD",
            note="as reported by the model sessions",
        ),
        _count(
            "investigation_action_approved",
            "investigation actions approved",
            approved,
            f"of {len(suggested)} runs where the investigation named a catalog action",
        ),
        _count(
            "investigations_judged_right",
            "investigations judged right",
            judged.count(Judged.RIGHT),
            "leading hypothesis marked right on an approval form",
        ),
        _count(
            "investigations_judged_wrong",
            "investigations judged wrong",
            judged.count(Judged.WRONG),
            "leading hypothesis marked wrong on an approval form",
        ),
    ]


def dry_run_figures(records: list[RunRecord]) -> list[Figure]:
    """What the shadow runs of the period would have done, and how often acting would have
    been needless (the alert resolved on its own, at verification or later)."""
    shadows = [r for r in records if Flag.DRY_RUN in r.tags]
    would = [set(tag_values(r.tags, Key.WOULD)) for r in shadows]
    acting = {Would.RUN_ACTION.value, Would.PROPOSE_FIX.value}
    acted = [r for r, w in zip(shadows, would, strict=True) if w & acting]
    needless = sum(r.self_resolved or Flag.ALERT_RESOLVED in r.tags for r in acted)
    return [
        _count("dry_runs", "dry runs", len(shadows), "runs that wrote, ran and sent nothing"),
        _count(
            "dry_run_would_open_issue",
            "dry runs that would open an issue",
            sum(Would.OPEN_ISSUE.value in w for w in would),
        ),
        _count(
            "dry_run_would_propose_fix",
            "dry runs that would propose a fix",
            sum(Would.PROPOSE_FIX.value in w for w in would),
        ),
        _count(
            "dry_run_would_run_action",
            "dry runs that would run an action",
            sum(Would.RUN_ACTION.value in w for w in would),
            "rollbacks included",
        ),
        _count(
            "dry_run_would_ask_approval",
            "dry runs that would need an approval",
            sum(Would.ASK_APPROVAL.value in w for w in would),
        ),
        _count(
            "dry_run_needless",
            "dry runs that would have acted needlessly",
            needless,
            f"of {len(acted)} that would fix or act: the alert resolved on its own",
        ),
    ]


def compute(records: list[RunRecord], since: datetime, until: datetime) -> RemediationReport:
    runs = len(records)
    received = sum(r.occurrences for r in records)
    self_resolved = sum(r.self_resolved for r in records)
    with_verdict = [r for r in records if r.verdict is not None]
    confirmed = sum(r.verdict == "confirmed" for r in with_verdict)
    unverifiable = sum(r.verdict == "unverifiable" for r in with_verdict)
    issues = sum(r.issue_at is not None for r in records)
    sessions = [r for r in records if r.fix_status not in (None, "skipped")]
    proposed = [r for r in records if r.fix_status == "proposed"]
    sent = sum(r.fix_proposed_at is not None for r in records)
    decided = {
        a: sum(r.approval == a for r in records) for a in ("approved", "rejected", "timed-out")
    }
    waiting = sum(Flag.AWAITING_APPROVAL in r.tags for r in records)
    to_issue = _seconds(records, lambda r: r.created, lambda r: r.issue_at)
    fired_to_issue = _seconds(records, lambda r: r.fired_at, lambda r: r.issue_at)
    generation = [r.fix_session_s for r in sessions if r.fix_session_s is not None]
    approval_wait = _seconds(records, lambda r: r.suspended_at, lambda r: r.resumed_at)
    to_pull = _seconds(records, lambda r: r.resumed_at, lambda r: r.pull_request_at)
    pulls = sum(r.pull_request_at is not None for r in records)
    not_published = sum(tag(Key.PUBLISH, Publish.FAILED) in r.tags for r in records)
    responded = sum(r.self_resolved or r.fix_status == "proposed" for r in records)
    coverage = _share(responded, runs)
    action_statuses = [tag_value(r.tags, Key.ACTION_STATUS) for r in records]
    actions_run = sum(status in ACTIONS_RAN for status in action_statuses)
    undone = sum(status in ACTIONS_UNDONE for status in action_statuses)
    rollbacks_failed = sum(tag(Key.ROLLBACK, "failed") in r.tags for r in records)
    rollbacks = rollbacks_failed + sum(tag(Key.ROLLBACK, "succeeded") in r.tags for r in records)
    verdict_note = (
        ""
        if len(with_verdict) == runs
        else f"verdict recorded on {len(with_verdict)} of {runs} runs"
    )
    figures = [
        _count("received", "alerts received", received, "occurrences, duplicates included"),
        _count("deduplicated", "deduplicated", received - runs, "occurrences merged into a run"),
        _count("runs", "remediation runs", runs),
        _count("self_resolved", "self-resolved", self_resolved),
        Figure(
            key="false_positive_rate",
            label="false-positive rate",
            value=_share(self_resolved, runs),
            unit="%",
            note="self-resolved share of runs",
        ),
        Figure(
            key="verified",
            label="verified (confirmed)",
            value=float(confirmed) if with_verdict else None,
            note=verdict_note,
        ),
        Figure(
            key="unverifiable",
            label="unverifiable",
            value=float(unverifiable) if with_verdict else None,
        ),
        _count("issues", "runs with an issue", issues),
        _below(
            "alert_to_issue_p50",
            "alert->issue p50",
            percentile(to_issue, 50),
            ALERT_TO_ISSUE_TARGET_S,
            "s",
            "< 120 s",
            "from the run's creation",
        ),
        _below(
            "alert_to_issue_p95",
            "alert->issue p95",
            percentile(to_issue, 95),
            ALERT_TO_ISSUE_TARGET_S,
            "s",
            "< 120 s",
            "from the run's creation",
        ),
        _below(
            "fired_to_issue_p50",
            "fired->issue p50",
            percentile(fired_to_issue, 50),
            ALERT_TO_ISSUE_TARGET_S,
            "s",
            "< 120 s",
            "from the alert's fired_at: includes the sender's own delay",
        ),
        _below(
            "fired_to_issue_p95",
            "fired->issue p95",
            percentile(fired_to_issue, 95),
            ALERT_TO_ISSUE_TARGET_S,
            "s",
            "< 120 s",
            "from the alert's fired_at: includes the sender's own delay",
        ),
        _count(
            "fix_sessions", "fix sessions run", len(sessions), "proposal sessions, skips excluded"
        ),
        _below(
            "fix_generation_p95",
            "fix generation p95",
            percentile(generation, 95),
            FIX_GENERATION_TARGET_S,
            "s",
            "< 600 s",
        ),
        _count("proposals", "fix proposals made", len(proposed), "sessions that produced a diff"),
        _count("sent_for_approval", "sent for approval", sent),
        _count("approved", "approved", decided["approved"]),
        _count("rejected", "rejected", decided["rejected"]),
        _count("timed_out", "approval timed out", decided["timed-out"]),
        _count("awaiting", "awaiting approval", waiting),
        Figure(
            key="approval_wait_p50",
            label="approval wait p50",
            value=percentile(approval_wait, 50),
            unit="s",
        ),
        _count("pull_requests", "pull requests opened", pulls),
        _count(
            "not_published",
            "approved fixes not published",
            not_published,
            "push or pull request failed; `remediate retry-publish RUN_ID`",
        ),
        Figure(
            key="approval_to_pr_p50",
            label="approval->PR p50",
            value=percentile(to_pull, 50),
            unit="s",
        ),
        _count("actions_run", "runbook actions run", actions_run, "rollbacks included"),
        _count(
            "actions_undone",
            "actions undone",
            undone,
            "health did not come back and the undo action ran",
        ),
        Figure(
            key="rolled_back",
            label="share of actions undone",
            value=_share(undone, actions_run),
            unit="%",
            target="< 5 %",
            met=None if actions_run == 0 else 100 * undone / actions_run < ROLLBACK_TARGET_PCT,
            note="share of runbook actions run" if actions_run else "no runbook action ran",
        ),
        _count("rollbacks", "deployment rollbacks run", rollbacks),
        _count(
            "rollbacks_failed",
            "deployment rollbacks failed",
            rollbacks_failed,
            "health did not come back; not retried",
        ),
        *investigation_figures(records),
        *dry_run_figures(records),
        Figure(
            key="coverage",
            label="automated response coverage",
            value=coverage,
            unit="%",
            target=">= 80 %",
            met=None if coverage is None else coverage >= COVERAGE_TARGET_PCT,
            note="runs verified self-resolved or with a fix proposed",
        ),
    ]
    return RemediationReport(
        since=since,
        until=until,
        figures=figures,
        days=_days(records),
        alert_to_issue_s=to_issue,
        fired_to_issue_s=fired_to_issue,
        fix_generation_s=generation,
    )


def _days(records: list[RunRecord]) -> list[Day]:
    days: dict[date, list[RunRecord]] = {}
    for r in records:
        days.setdefault(r.created.date(), []).append(r)
    return [
        Day(
            day=day,
            runs=len(rs),
            received=sum(r.occurrences for r in rs),
            self_resolved=sum(r.self_resolved for r in rs),
            confirmed=sum(r.verdict == "confirmed" for r in rs),
            issues=sum(r.issue_at is not None for r in rs),
            proposals=sum(r.fix_status == "proposed" for r in rs),
        )
        for day, rs in sorted(days.items())
    ]
