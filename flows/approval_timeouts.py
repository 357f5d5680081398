"""Record approvals that never came: a suspended run whose wait expired counts as rejected.

The Prefect server fails a suspended run when its approval timeout passes; no flow code
runs then, so this scheduled flow finds those runs by their ``awaiting-approval`` tag,
says so on the issue and on the run, and retags them ``approval:timed-out`` (or
``action-approval:timed-out`` when a runbook action was the one waiting).
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun, StateType

from remediate.alerts import Alert
from remediate.catalog import load_catalog
from remediate.runs.tags import Flag, Key, Verdict, merged, tag, tag_value
from remediate.settings import get_settings
from remediate.trackers import make_tracker

TIMED_OUT_TAG = tag(Key.APPROVAL, Verdict.TIMED_OUT)
ACTION_TIMED_OUT_TAG = tag(Key.ACTION_APPROVAL, Verdict.TIMED_OUT)


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
            f"Runbook action `{action}` not approved in time",
            "Nothing was run.",
            "action-decision",
            ACTION_TIMED_OUT_TAG,
        )
    return PendingDecision(
        "Fix not approved in time", "Nothing was pushed.", "fix-decision", TIMED_OUT_TAG
    )


def timeout_note(run: FlowRun, hours: float) -> str:
    message = run.state.message if run.state and run.state.message else "no message"
    pending = pending_decision(run.tags)
    return (
        f"**{pending.subject}**: no decision within {hours:g} h, so it counts as"
        f" rejected. {pending.consequence} (Run ended: {message})"
    )


@flow(name="record-approval-timeouts")
async def record_approval_timeouts() -> int:
    """Returns how many expired approvals it recorded."""
    logger = get_run_logger()
    catalog = load_catalog()
    settings = get_settings()
    hours = catalog.approval.timeout_s / 3600
    recorded = 0
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[Flag.AWAITING_APPROVAL.value]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.FAILED])),
            ),
            limit=200,
        )
        for run in runs:
            note = timeout_note(run, hours)
            pending = pending_decision(run.tags)
            alert = catalog.attribute(Alert.model_validate(run.parameters["alert"]))
            number = tag_value(run.tags, Key.ISSUE)
            if number is not None and number.isdigit():
                tracker = make_tracker(catalog, catalog.service(alert.service), settings)
                tracker.add_comment(int(number), f"{alert.occurrence_key}:{pending.key}", note)
            await client.create_artifact(
                ArtifactCreate(
                    key=pending.key,
                    type="markdown",
                    data=note,
                    description="approval timed out",
                    flow_run_id=run.id,
                )
            )
            tags = merged(run.tags, [pending.tag], remove=[Flag.AWAITING_APPROVAL])
            await client.update_flow_run(run.id, tags=tags)
            logger.info("approval of run %s timed out; recorded as rejected", run.id)
            recorded += 1
    return recorded
