"""The audit trail: one entry per decision, action run, stop by a control and change of the
automation pause, each a ``remediate-audit`` table artifact (on its run when there is one),
plus the silences of the outbox's store. ``remediate audit`` reads them back.

The field names of :class:`AuditEntry` are a stable interface (docs/controls.md)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from remediate.actions.models import ActionOutcome
from remediate.approval.record import DecisionRecord
from remediate.controls.silences import Silence
from remediate.runs.tags import Key, tag_value

AUDIT_KEY = "remediate-audit"


class Kind(StrEnum):
    FIX_DECISION = "fix-decision"
    ACTION_DECISION = "action-decision"
    FIX_PUBLISHED = "fix-published"
    ACTION_RUN = "action-run"
    CONTROL_STOP = "control-stop"
    AUTOMATION_PAUSED = "automation-paused"
    AUTOMATION_RESUMED = "automation-resumed"
    SILENCE_CREATED = "silence-created"
    SILENCE_EXPIRED = "silence-expired"
    INCIDENT_JOINED = "incident-joined"


class AuditEntry(BaseModel):
    """One decision or act. Empty strings and empty objects stand for "not applicable"."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    at: AwareDatetime
    kind: Kind
    subject: str = ""
    """What it is about: ``fix``, the action's name, the stopped step, the silence id."""
    verdict: str = ""
    """approved / rejected / timed-out for decisions; the action's status for a run."""
    actor: str = ""
    """Who decided, paused, resumed or silenced (a declared name or verified account)."""
    channel: str = ""
    identity: str = ""
    comment: str = ""
    control: str = ""
    """The control that stopped a step (``automation-paused``, a breaker's name)."""
    parameters: dict[str, str] = Field(default_factory=dict)
    command: str = ""
    hosts: list[str] = Field(default_factory=list)
    undo: str = ""
    """The undo action that ran, for an action whose post-condition failed."""
    reason: str = ""
    run_id: str = ""
    service: str = ""
    check: str = ""
    alert_id: str = ""


FIELDS = list(AuditEntry.model_fields)


def decision_entry(key: str, subject: str, record: DecisionRecord) -> AuditEntry:
    """A ``fix-decision`` / ``action-decision`` record; ``subject`` as the run words it
    ("Fix", "Runbook action `restart`"): the name in backticks, else the word."""
    named = re.search(r"`([^`]+)`", subject)
    return AuditEntry(
        at=record.decided_at,
        kind=Kind(key)
        if key in (Kind.FIX_DECISION, Kind.ACTION_DECISION)
        else Kind.ACTION_DECISION,
        subject=named.group(1) if named else subject.lower(),
        verdict=record.verdict,
        actor=record.approver or "",
        channel=record.channel,
        identity=record.identity,
        comment=record.comment,
    )


def action_run_entry(outcome: ActionOutcome) -> AuditEntry:
    """A runbook action (or rollback) that ran: its parameters, command, hosts, status and
    the undo that ran after it, if any."""
    proposal = outcome.proposal
    return AuditEntry(
        at=datetime.now(UTC),
        kind=Kind.ACTION_RUN,
        subject=proposal.action,
        verdict=outcome.status.value,
        actor=(outcome.decision.approver or "") if outcome.decision else "",
        channel=outcome.decision.channel if outcome.decision else "unattended",
        parameters=proposal.parameters,
        command=proposal.command,
        hosts=proposal.hosts,
        undo=(proposal.undo or "") if outcome.undo is not None else "",
        reason=outcome.reason,
    )


def artifact(entry: AuditEntry, run_id: str | None) -> ArtifactCreate:
    row = entry.model_dump(mode="json", exclude={"run_id", "service", "check", "alert_id"})
    return ArtifactCreate(
        key=AUDIT_KEY,
        type="table",
        data=json.dumps([row]),
        description=f"audit: {entry.kind.value} {entry.subject}".strip()[:500],
        flow_run_id=UUID(run_id) if run_id else None,
    )


async def write(entry: AuditEntry, run_id: str | None) -> None:
    """Add ``entry`` to the trail, on run ``run_id`` when given."""
    async with get_client() as client:
        await client.create_artifact(artifact(entry, run_id))


def from_artifact(found: dict[str, Any], runs: dict[str, dict[str, Any]]) -> AuditEntry | None:
    """The entry an audit artifact holds, joined with its run's alert tags; None for an
    artifact that is not one of ours."""
    try:
        rows = json.loads(found.get("data") or "")
        entry = AuditEntry.model_validate(rows[0])
    except (ValueError, TypeError, IndexError, KeyError, ValidationError):
        return None
    run_id = str(found.get("flow_run_id") or "")
    tags = runs.get(run_id, {}).get("tags", [])
    return entry.model_copy(
        update={
            "run_id": run_id,
            "service": tag_value(tags, Key.SERVICE) or "",
            "check": tag_value(tags, Key.CHECK) or "",
            "alert_id": tag_value(tags, Key.ALERT) or "",
        }
    )


def silence_entries(silences: Iterable[Silence]) -> list[AuditEntry]:
    entries = []
    for s in silences:
        common = {
            "subject": s.id,
            "service": s.service or "",
            "check": s.check,
            "reason": s.reason,
        }
        created = datetime.fromtimestamp(s.starts_at, UTC)
        entries.append(
            AuditEntry(at=created, kind=Kind.SILENCE_CREATED, actor=s.created_by, **common)
        )
        if s.expired_at is not None:
            expired = datetime.fromtimestamp(s.expired_at, UTC)
            entries.append(AuditEntry(at=expired, kind=Kind.SILENCE_EXPIRED, **common))
    return entries


def jsonl(entries: Iterable[AuditEntry]) -> str:
    return "".join(e.model_dump_json() + "\n" for e in entries)


def csv_text(entries: Iterable[AuditEntry]) -> str:
    """One row per entry, the columns in :data:`FIELDS`; objects and lists as JSON."""
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        row = entry.model_dump(mode="json")
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()}
        )
    return out.getvalue()


def from_csv(text: str) -> list[AuditEntry]:
    rows = csv.DictReader(io.StringIO(text))
    return [
        AuditEntry.model_validate(
            {k: json.loads(v) if k in ("parameters", "hosts") else v for k, v in row.items()}
        )
        for row in rows
    ]
