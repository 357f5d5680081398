"""Recover remediation runs whose process died (Crashed): run them again, or say so.

A run's process can die mid-step (``kill -9``, the out-of-memory killer, a host that goes
away); its worker reports the run Crashed and no flow code runs again by itself. An
automation (the deployment's trigger in ``prefect.yaml``) starts this flow for exactly that
run on its ``prefect.flow-run.Crashed`` event, and a schedule sweeps every Crashed run the
events missed (those that crashed more than ten minutes ago, so the sweep never races the
automation over a fresh crash). Each such run is scheduled again, on the same run id, up to
``max_restarts`` times: its steps cached per flow run (verify, diagnose, logs, the issue
write, the investigation, the fix proposal) return their first result when they finished
before the crash, and every tracker write is keyed, so a step cut short is done once.
A run that crashed after its runbook action (or rollback) started is never started again: that
step is not cached, so a second attempt would run it twice; it is left for a person at once.
A run that crashed more often is left Crashed, tagged ``crashed-needs-attention``, and said
so on its alert's issue when it got as far as one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
    TaskRunFilter,
    TaskRunFilterName,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import AwaitingRetry

from remediate.alerts import Alert
from remediate.catalog import load_catalog
from remediate.runs.tags import Flag, Key, retag, tag, tag_value
from remediate.settings import get_settings
from remediate.trackers import make_tracker
from tasks.trackers import comment_on_issue

RESOURCE_PREFIX = "prefect.flow-run."
DEPLOYMENT_NAME = "remediate-alert"
SWEEP_AFTER = timedelta(minutes=10)
UNREPEATABLE_STEP = "run-action"


def run_id_of(resource: str) -> UUID:
    """A run id, given bare or as the event resource id ``prefect.flow-run.<id>``."""
    return UUID(resource.removeprefix(RESOURCE_PREFIX))


def crashes_of(run: FlowRun) -> int:
    """How many times this run crashed before, from its ``crashes:`` tag."""
    value = tag_value(run.tags, Key.CRASHES)
    return int(value) if value is not None and value.isdigit() else 0


def crash_message(run: FlowRun) -> str:
    return run.state.message if run.state and run.state.message else "no message"


def gave_up_note(run: FlowRun, crashes: int, unrepeatable: str | None) -> str:
    why = (
        f"crashed after its step `{unrepeatable}` started, which must not run twice,"
        if unrepeatable
        else f"crashed {crashes} times"
    )
    return (
        f"**The remediation run {why}** and was not started again; it needs a person."
        f" Last crash: {crash_message(run)}. Check what the step did, then retry the run from"
        " its page if it should go on."
    )


async def unrepeatable_step(run: FlowRun) -> str | None:
    """The name of a step of ``run`` that changes a system and is not cached (a runbook
    action or rollback), when one started before the crash."""
    async with get_client() as client:
        started = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=UNREPEATABLE_STEP)),
            limit=1,
        )
    return started[0].name if started else None


async def crashed_runs(flow_run_id: str | None) -> list[FlowRun]:
    """Crashed remediation runs not yet given up on: the one named, or every one."""
    ids = FlowRunFilterId(any_=[run_id_of(flow_run_id)]) if flow_run_id else None
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                id=ids,
                tags=FlowRunFilterTags(all_=[Flag.REMEDIATE.value]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED])),
            ),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT_NAME])),
            limit=200,
        )
    settled = datetime.now(UTC) - SWEEP_AFTER
    return [
        r
        for r in runs
        if Flag.CRASHED_NEEDS_ATTENTION.value not in r.tags
        and (flow_run_id or (r.state is not None and r.state.timestamp <= settled))
    ]


async def restart(run: FlowRun, crashes: int, max_restarts: int) -> None:
    """Count the crash on the run's tags, then schedule it again now (the UI's Retry)."""
    await retag([tag(Key.CRASHES, crashes)], replace=[Key.CRASHES], run_id=run.id)
    message = (
        f"scheduled again after a crash (restart {crashes} of {max_restarts}): {crash_message(run)}"
    )
    async with get_client() as client:
        await client.set_flow_run_state(run.id, AwaitingRetry(message=message), force=True)


def give_up(run: FlowRun, crashes: int, unrepeatable: str | None) -> int | None:
    """Say on the alert's issue (when the run got as far as one) that this run needs a
    person; the issue's number."""
    catalog = load_catalog()
    alert = catalog.attribute(Alert.model_validate(run.parameters["alert"]))
    service = catalog.service(alert.service)
    tagged = tag_value(run.tags, Key.ISSUE)
    number = (
        int(tagged)
        if tagged is not None and tagged.isdigit()
        else make_tracker(catalog, service, get_settings()).issue_for(alert.fingerprint)
    )
    if number is not None:
        key = f"{alert.occurrence_key}:crashed"
        comment_on_issue(catalog, service, number, key, gave_up_note(run, crashes, unrepeatable))
    return number


@flow(name="recover-crashed-runs")
async def recover_crashed_runs(flow_run_id: str | None = None, max_restarts: int = 2) -> int:
    """Starts the Crashed remediation run ``flow_run_id`` (a run id or its event resource
    id) again, or every Crashed one when none is given, up to ``max_restarts`` times each;
    tags a run that crashed more often, or after a runbook action started,
    ``crashed-needs-attention``. Returns how many runs it
    started again."""
    logger = get_run_logger()
    restarted = 0
    for run in await crashed_runs(flow_run_id):
        crashes = crashes_of(run) + 1
        unrepeatable = await unrepeatable_step(run)
        if crashes <= max_restarts and unrepeatable is None:
            await restart(run, crashes, max_restarts)
            restarted += 1
            logger.info("run %s crashed (%d of %d): started again", run.id, crashes, max_restarts)
            continue
        # the note first: a run tagged before its note was written would never get one
        give_up(run, crashes, unrepeatable)
        await retag(
            [tag(Key.CRASHES, crashes), Flag.CRASHED_NEEDS_ATTENTION.value],
            replace=[Key.CRASHES],
            run_id=run.id,
        )
        logger.error(
            "run %s crashed (%d times%s): left Crashed for a person",
            run.id,
            crashes,
            f", after {unrepeatable} started" if unrepeatable else "",
        )
    return restarted
