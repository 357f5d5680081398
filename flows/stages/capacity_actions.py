"""The runbook action a metric names, proposed when its forecast is inside the horizon.

It goes through the same approval gate, per-service limit, post-condition and undo as the
actions alerts propose (``flows.stages.actions``). A proposal is made at most once per issue and
UTC day: the first run that claims the day's key in the sample store proposes; later
scheduled runs of that day skip it, whatever the gate's outcome. A run that resumes after
its approval finds its own claim and carries on. When the run that waited for approval has
ended without a decision (the server fails it when the approval times out), the next run
records that on the issue.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from prefect import get_run_logger
from prefect.runtime import flow_run

from flows.stages.actions import decide_and_run
from remediate.actions.config import ActionParameterError
from remediate.actions.models import ActionOutcome
from remediate.actions.runbook import propose
from remediate.actions.text import proposal_comment
from remediate.capacity.config import MetricSpec
from remediate.capacity.store import SampleStore
from remediate.catalog import Catalog, Service
from remediate.runs.history import how_run_ended
from remediate.runs.tags import Flag, Key, retag, tag
from remediate.trackers.models import IssueRef
from tasks.trackers import record_on_issue

REFUSED = "refused"
UNDECIDED = "not-decided"


def proposal_key(fingerprint: str, action: str, now: datetime) -> str:
    return f"{fingerprint}:{now:%Y-%m-%d}:{action}"


def approval_key(fingerprint: str) -> str:
    """The suspension key of this issue's approval (one run may wait for several)."""
    return "capacity-approval-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:12]


async def act_on_forecast(
    service: Service,
    metric: MetricSpec,
    catalog: Catalog,
    issue: IssueRef,
    fingerprint: str,
    store: SampleStore,
    now: datetime,
) -> ActionOutcome | None:
    """None when the metric names no action or this issue's action was proposed today."""
    named = metric.action
    action = service.action(named.name) if named else None
    if named is None or action is None:
        return None
    logger = get_run_logger()
    key = proposal_key(fingerprint, action.name, now)
    run_id = flow_run.get_id() or "outside-a-flow-run"
    owner, status = await store.claim(key, run_id, now)

    def note(suffix: str, text: str) -> None:
        record_on_issue(catalog, service, issue, f"{key}:{suffix}", text)

    if owner != run_id and status is None:
        ended = await how_run_ended(owner)
        if ended is not None:
            note(
                "action-result",
                f"**Runbook action `{action.name}`: not decided.** The run that waited for"
                f" approval ended ({ended}); nothing ran. It is not proposed again today.",
            )
            await store.finish(key, UNDECIDED)
            status = UNDECIDED
    if owner != run_id or status is not None:
        logger.info(
            "runbook action %s for %s already proposed today (run %s, %s): not proposed again",
            action.name,
            metric.name,
            owner,
            status or "pending",
        )
        return None

    try:
        bound = named.bind(action)
        proposal = propose(
            service, bound, catalog.redactor(), f"capacity forecast of {metric.name}"
        )
    except ActionParameterError as exc:
        logger.error("runbook action refused: %s", exc)
        note("action-refused", f"**Runbook action `{action.name}` refused:** {exc}")
        await store.finish(key, REFUSED)
        return None
    logger.info("runbook action proposed for %s: %s on %s", metric.name, action.name, service.name)
    await retag([tag(Key.ACTION, action.name)])
    note("action-proposal", proposal_comment(proposal))
    outcome = await decide_and_run(
        service,
        bound,
        catalog,
        issue,
        proposal,
        note,
        awaiting=Flag.AWAITING_CAPACITY_APPROVAL,
        approval_key=approval_key(fingerprint),
    )
    await store.finish(key, outcome.status.value)
    return outcome
