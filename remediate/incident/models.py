"""The incident as a run sees it: occurrence history and the run's outcome."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from remediate.actions.models import ActionOutcome
from remediate.alerts import Alert
from remediate.approval.record import DecisionRecord
from remediate.bluegreen.models import SwitchOutcome
from remediate.catalog import Service
from remediate.diagnosis.models import Diagnosis, Verification
from remediate.evidence.models import LogBundle
from remediate.fixer.models import FixProposal, PullRequestRef
from remediate.investigation.models import Investigation
from remediate.rollback.models import RollbackOutcome
from remediate.trackers.models import IssueRef


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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
    investigation: Investigation | None = None
    issue: IssueRef | None = None
    flow_run_id: str | None = None
    fix: FixProposal | None = None
    fix_decision: DecisionRecord | None = None
    pull_request: PullRequestRef | None = None
    action: ActionOutcome | None = None
    rollback: RollbackOutcome | None = None
    switch: SwitchOutcome | None = None
    silenced_by: str | None = None
    """``maintenance.<window>`` or ``silence.<id>`` when the alert arrived inside one."""
    dry_run: bool = False


class Occurrences(BaseModel):
    """How often this fingerprint fired, as far as the run history tells."""

    model_config = ConfigDict(frozen=True)

    count: int
    first_seen: datetime
    last_seen: datetime
    flapping_transitions: int | None = None
    flapping_window_s: float | None = None


class RelatedAlert(_Frozen):
    """Another alert of the same incident across services, with its run's evidence."""

    run_id: str
    service: str | None
    check_id: str
    fingerprint: str
    correlation: str
    """Why it belongs to this incident."""
    evidence: str | None = None
    """Its run's redacted evidence (alert, verification, diagnosis, logs), when it came."""


class Incident(_Frozen):
    """One alert's incident as the stages build it up: each stage takes it and the next
    stage gets a copy with what that stage found."""

    alert: Alert
    service: Service | None = None
    run_id: str | None = None
    run_url: str | None = None
    occurrences: Occurrences | None = None
    verification: Verification | None = None
    diagnosis: Diagnosis | None = None
    logs: LogBundle | None = None
    investigation: Investigation | None = None
    issue: IssueRef | None = None
    dry_run: bool = False
    """A shadow run: every step computes what it would do, records it as an artifact and
    writes, pushes, runs and notifies nothing."""

    related: tuple[RelatedAlert, ...] = ()
    """The other alerts of this incident across services (a lead run's fix proposal sees
    their evidence too)."""
    issue_of: Service | None = None
    """The service whose tracker holds ``issue`` when it is not this alert's own (a run that
    joined another run's incident comments on that run's issue)."""

    @property
    def tracker_service(self) -> Service | None:
        return self.issue_of or self.service

    def key(self, suffix: str) -> str:
        """The idempotency key of one tracker write about this occurrence."""
        return f"{self.alert.occurrence_key}:{suffix}"
