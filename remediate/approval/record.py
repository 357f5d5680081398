"""The record of a decision: what was decided, by whom, through which channel and when.

Every place that shows or stores a decision reads a ``DecisionRecord``: the run's
``fix-decision`` / ``action-decision`` artifact, the issue comment, the pull request body,
the ``incident-report`` artifact and the run's outcome. A new channel is a new ``channel``
value (with its note in ``channel.py``); its time is when the decision reached the
orchestrator.

The time of a decision made in the Prefect UI, the REST API or ``remediate approve`` is the
creation time of the suspension's response input on the Prefect server: the same on every
later attempt of the run. A timeout's time is when the server failed the waiting run.

An approved fix is also kept on its run (``RECORD_KEY``) so a failed publication can be
retried: Prefect deletes a suspension's stored input when the run is re-run from a final
state and the suspension fires again, so an approval would be asked for a second time. A
retry reuses the kept approval only if it still names a listed approver and the sha256 of
the diff the run holds now (the push checks that hash again).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
)
from prefect.exceptions import PrefectHTTPStatusError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from remediate.approval.channel import CHANNEL, TIMEOUT, identity_note
from remediate.approval.form import Approval, FixApproval, refusal
from remediate.approval.retry import RETRY_MARK, RETRY_STATE
from remediate.markdown import inline

RECORD_KEY = "fix-approval-decision"
Verdict = Literal["approved", "rejected", "timed-out"]


class DecisionRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Verdict
    approver: str | None = Field(default=None, max_length=100)
    channel: str
    identity: str = Field(default="", max_length=100)
    """The account the channel verified (Slack user id, GitHub login); empty where the
    approver is a declared name (the Prefect API)."""
    decided_at: AwareDatetime
    comment: str = Field(default="", max_length=2000)

    @property
    def approved(self) -> bool:
        return self.verdict == "approved"

    @property
    def when(self) -> str:
        """UTC, ISO 8601, to the second: ``2026-11-29T12:00:03Z``."""
        return self.decided_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def verdict_words(self) -> str:
        return "timed out" if self.verdict == "timed-out" else self.verdict

    def details(self) -> str:
        """Who, through which channel, when; escaped Markdown."""
        if self.verdict == "timed-out":
            return f"at {self.when}: no decision came, so it counts as rejected"
        who = inline(self.approver or "unknown", 100)
        return f"by {who} via `{self.channel}` at {self.when}"

    def line(self) -> str:
        """``approved by alice via `prefect-api` at 2026-11-29T12:00:03Z``"""
        return f"{self.verdict_words} {self.details()}"

    def markdown(self, subject: str | None = None) -> str:
        """The whole record, escaped: ``**Fix approved** by …`` for ``subject`` "Fix" (our
        own word), ``**Decision:** approved by …`` without one."""
        head = (
            f"**{subject} {self.verdict_words}** {self.details()}."
            if subject
            else f"**Decision:** {self.line()}."
        )
        lines = [head, "", identity_note(self.channel, self.identity)]
        if self.comment:
            lines += ["", f"Comment: {inline(self.comment, 2000)}"]
        return "\n".join(lines)


def decided(
    approval: Approval, at: datetime, channel: str = CHANNEL, identity: str = ""
) -> DecisionRecord:
    return DecisionRecord(
        verdict="approved" if approval.approved else "rejected",
        approver=approval.approver,
        channel=channel,
        identity=identity,
        decided_at=at,
        comment=approval.comment,
    )


def timed_out(at: datetime) -> DecisionRecord:
    return DecisionRecord(verdict="timed-out", channel=TIMEOUT, decided_at=at)


async def decision_time(run_id: str, suspension_key: str) -> datetime:
    """When the decision for ``suspension_key`` reached the server (its response input's
    creation time); the current time when the server holds no such input (a decision
    given before this record existed)."""
    prefix = f"suspended-{suspension_key}-response"
    async with get_client() as client:
        inputs = await client.filter_flow_run_input(UUID(run_id), prefix, 10, set())
    created = [i.created for i in inputs if i.key == prefix and i.created is not None]
    return created[0].astimezone(UTC) if created else datetime.now(UTC)


async def record_on_run(run_id: str, key: str, subject: str, record: DecisionRecord) -> bool:
    """``record`` as the ``key`` artifact of run ``run_id`` (another run than the one
    writing), unless that run already has one: a sweep run twice writes it once."""
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)]),
                key=ArtifactFilterKey(any_=[key]),
            ),
            limit=1,
        )
        if found:
            return False
        await client.create_artifact(
            ArtifactCreate(
                key=key,
                type="markdown",
                data=record.markdown(subject),
                description=f"{subject}: {record.line()}"[:500],
                flow_run_id=UUID(run_id),
            )
        )
    return True


async def publication_attempt(run_id: str) -> int:
    """0 for a run's first publication, N after its Nth ``remediate retry-publish``. A run
    resumed for another decision keeps its number, so what is sent once per attempt is not
    sent again."""
    async with get_client() as client:
        states = await client.read_flow_run_states(UUID(run_id))
    retries = [s for s in states if s.name == RETRY_STATE]
    return sum(1 for s in retries if (s.message or "").endswith(RETRY_MARK))


class KeptApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval: dict[str, object]
    record: DecisionRecord


async def _stored(client: PrefectClient, run_id: str) -> str | None:
    try:
        return await client.read_flow_run_input(UUID(run_id), RECORD_KEY)
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code == 404:
            return None
        raise


async def keep_decision(run_id: str, approval: FixApproval, record: DecisionRecord) -> None:
    """Store ``approval`` and its record on the run, once (a resumed run finds them)."""
    kept = KeptApproval(approval=approval.model_dump(mode="json"), record=record)
    async with get_client() as client:
        if await _stored(client, run_id) is None:
            await client.create_flow_run_input(UUID(run_id), RECORD_KEY, kept.model_dump_json())


async def kept_decision(
    run_id: str, form: type[FixApproval], approvers: list[str], shown_sha256: str
) -> tuple[tuple[FixApproval, DecisionRecord] | None, str]:
    """((the stored approval, its record), "") when it may be reused for the diff
    ``shown_sha256``, else (None, why not)."""
    async with get_client() as client:
        stored = await _stored(client, run_id)
    if stored is None:
        return None, "no approval is recorded on this run"
    try:
        kept = KeptApproval.model_validate(json.loads(stored))
        approval = form.model_validate(kept.approval)
    except (ValidationError, ValueError) as exc:
        return None, f"the recorded approval is not valid: {type(exc).__name__}"
    reason = refusal(approval, approvers)
    if reason is not None:
        return None, reason
    if not approval.approved:
        return None, "the recorded decision is a rejection"
    if approval.diff_sha256 != shown_sha256:
        return None, (
            f"the recorded approval is for diff {approval.diff_sha256}, the run now holds"
            f" {shown_sha256}"
        )
    return (approval, kept.record), ""
