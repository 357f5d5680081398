"""Record approvals that never came: a suspended run whose wait expired counts as rejected.

The Prefect server fails a suspended run when its approval timeout passes; no flow code
runs then. An automation (the deployment's trigger in ``prefect.yaml``) starts this flow
for exactly that run on its ``prefect.flow-run.Failed`` event with the expired-pause state
message; the flow records it only if the run still carries ``awaiting-approval``. A daily
schedule without a run id sweeps every such run the events missed. Either way the flow
says so on the issue and on the run, and retags it ``approval:timed-out`` (or
``action-approval:timed-out`` when a runbook action was waiting).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType

from remediate.alerts import Alert
from remediate.approval.record import DecisionRecord, timed_out
from remediate.catalog import Catalog, load_catalog
from remediate.runs.tags import Flag, Key, Verdict, retag, tag, tag_value
from tasks.approval import record_decision_on_run
from tasks.trackers import comment_on_issue

TIMED_OUT_TAG = tag(Key.APPROVAL, Verdict.TIMED_OUT)
ACTION_TIMED_OUT_TAG = tag(Key.ACTION_APPROVAL, Verdict.TIMED_OUT)
RESOURCE_PREFIX = "prefect.flow-run."


@dataclass(frozen=True)
class PendingDecision:
    """What the expired approval was for: the fix, or a runbook action after it."""

    subject: str
    consequence: str
    key: str
    tag: str


def pending_decision(tags: list[str]) -> PendingDecision:
    action = tag_value(tags, Key.ACTION)
    if action is not None:
        return PendingDecision(
            f"Runbook action `{action}`",
            "Nothing was run.",
            "action-decision",
            ACTION_TIMED_OUT_TAG,
        )
    return PendingDecision("Fix", "Nothing was pushed.", "fix-decision", TIMED_OUT_TAG)


def expiry(run: FlowRun) -> DecisionRecord:
    """The timeout's record: when the server failed the waiting run."""
    at = run.state.timestamp if run.state and run.state.timestamp else datetime.now(UTC)
    return timed_out(at)


def timeout_note(run: FlowRun, hours: float) -> str:
    message = run.state.message if run.state and run.state.message else "no message"
    pending = pending_decision(run.tags)
    record = expiry(run)
    return (
        f"**{pending.subject} not approved in time**: no decision within {hours:g} h, so it"
        f" counts as rejected. {pending.consequence} (Run ended at {record.when}: {message})"
        f"\n\n{record.markdown(pending.subject)}"
    )


def run_id_of(resource: str) -> UUID:
    """A run id, given bare or as the event resource id ``prefect.flow-run.<id>``."""
    return UUID(resource.removeprefix(RESOURCE_PREFIX))


async def expired_runs(flow_run_id: str | None) -> list[FlowRun]:
    """Failed runs still tagged ``awaiting-approval``: the one named, or every one."""
    ids = FlowRunFilterId(any_=[run_id_of(flow_run_id)]) if flow_run_id else None
    async with get_client() as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=ids,
                tags=FlowRunFilterTags(all_=[Flag.AWAITING_APPROVAL.value]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.FAILED])),
            ),
            limit=200,
        )


async def record_expiry(run: FlowRun, catalog: Catalog, hours: float) -> None:
    pending = pending_decision(run.tags)
    alert = catalog.attribute(Alert.model_validate(run.parameters["alert"]))
    number = tag_value(run.tags, Key.ISSUE)
    if number is not None and number.isdigit():
        key = f"{alert.occurrence_key}:{pending.key}"
        service = catalog.service(alert.service)
        comment_on_issue(catalog, service, int(number), key, timeout_note(run, hours))
    await record_decision_on_run(str(run.id), pending.key, pending.subject, expiry(run))
    await retag([pending.tag], remove=[Flag.AWAITING_APPROVAL], run_id=run.id)


@flow(name="record-approval-timeouts")
async def record_approval_timeouts(flow_run_id: str | None = None) -> int:
    """Records the expired approval of ``flow_run_id`` (a run id or its event resource id),
    or of every run whose wait expired when none is given. Returns how many it recorded."""
    logger = get_run_logger()
    catalog = load_catalog()
    hours = catalog.approval.timeout_s / 3600
    runs = await expired_runs(flow_run_id)
    for run in runs:
        await record_expiry(run, catalog, hours)
        logger.info("approval of run %s timed out; recorded as rejected", run.id)
    return len(runs)
