"""The deployment-rollback stage: read releases, and roll back a release that just went live.

When the alert fired within ``releases.window_s`` after the current release went live and
an older release exists, the service's rollback action is proposed with that release as
its parameter and runs through the runbook stage (approval gate, one action per service,
transaction with undo, post-condition). A rollback that fails is reported loudly, tagged
``rollback:failed`` and never proposed again for the same pair of releases: the run
history is searched before proposing.
"""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.runtime import flow_run

from remediate.actions.config import ActionParameterError
from remediate.alerts import Alert, utc
from remediate.catalog import Catalog, Service
from remediate.rollback.github_releases import read_service_deployments
from remediate.rollback.models import ReleaseRead, RollbackOutcome, RollbackStatus, rollback_status
from remediate.rollback.ssh_releases import read_releases, rollback_action, within_window
from remediate.rollback.text import proposal_comment, result_comment
from remediate.trackers.models import IssueRef
from tasks.fix import _retag, per_flow_run, record_on_issue
from tasks.runbook import act_on_alert

FAILED_TAG = f"rollback:{RollbackStatus.FAILED.value}"


@task(name="read-releases", cache_key_fn=per_flow_run, persist_result=True)
async def read_service_releases(service: Service, catalog: Catalog) -> ReleaseRead:
    if service.releases is None:
        raise ValueError(f"service {service.name} has no releases section")
    if service.releases.github is not None:
        return await read_service_deployments(service, service.releases, catalog.tracker)
    return await read_releases(service, service.releases, catalog.evidence.limits)


async def earlier_failed_rollback(service: str, current: str, previous: str) -> str | None:
    """Another run that already tried this rollback and failed, from the tagged history."""
    wanted = [
        f"service:{service}",
        FAILED_TAG,
        f"rollback-from:{current}",
        f"rollback-to:{previous}",
    ]
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=wanted)), limit=5
        )
    this_run = flow_run.get_id()
    return next((f"{r.name} ({r.id})" for r in runs if str(r.id) != this_run), None)


def _seconds(value: float) -> str:
    return f"{value:.0f} s"


def _timing(deployed_at: datetime, fired_at: datetime, window_s: float, current: str) -> str:
    elapsed = (utc(fired_at) - deployed_at).total_seconds()
    when = deployed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if elapsed < 0:
        return f"Release {current} went live at {when}, {_seconds(-elapsed)} after the alert fired."
    inside = "within" if elapsed <= window_s else "outside"
    return (
        f"Release {current} went live at {when}; the alert fired {_seconds(elapsed)} later,"
        f" {inside} the rollback window of {_seconds(window_s)}."
    )


async def roll_back_recent_release(
    alert: Alert, service: Service | None, catalog: Catalog, issue: IssueRef | None
) -> RollbackOutcome | None:
    """None when the service has no ``releases`` section; otherwise what was decided."""
    if service is None or service.releases is None:
        return None
    source = service.releases
    logger = get_run_logger()

    def note(suffix: str, text: str) -> None:
        if issue is not None:
            record_on_issue(catalog, service, issue, f"{alert.occurrence_key}:{suffix}", text)

    read = await read_service_releases(service, catalog)
    base = RollbackOutcome(
        service=service.name,
        status=RollbackStatus.NOT_PROPOSED,
        reason="",
        window_s=source.window_s,
        fired_at=alert.fired_at,
        read=read,
    )
    listing = read.listing
    if listing is None:
        outcome = base.model_copy(
            update={
                "status": RollbackStatus.UNREADABLE,
                "reason": f"Releases read from {read.where}: {read.error}",
            }
        )
        logger.error("releases of %s unusable: %s", service.name, read.error)
        await _retag([f"rollback:{outcome.status.value}"])
        note("rollback-unreadable", result_comment(outcome))
        return outcome

    timing = _timing(listing.deployed_at, alert.fired_at, source.window_s, listing.current)
    previous = listing.previous()
    if not within_window(listing, utc(alert.fired_at), source.window_s):
        logger.info("no rollback: %s", timing)
        return base.model_copy(update={"reason": timing})
    if previous is None:
        reason = f"{timing} No release is older than {listing.current}."
        logger.info("no rollback: %s", reason)
        return base.model_copy(update={"reason": reason})
    base = base.model_copy(update={"previous": previous.id})

    blocker = await earlier_failed_rollback(service.name, listing.current, previous.id)
    if blocker is not None:
        outcome = base.model_copy(
            update={
                "status": RollbackStatus.BLOCKED,
                "blocked_by": blocker,
                "reason": f"{timing} The same rollback failed in run {blocker};"
                " it is not tried again.",
            }
        )
        logger.error("rollback not proposed again: %s", outcome.reason)
        await _retag([f"rollback:{outcome.status.value}"])
        note("rollback-blocked", result_comment(outcome))
        return outcome

    try:
        action = rollback_action(service, source, previous.id)
    except ActionParameterError as exc:
        outcome = base.model_copy(
            update={"status": RollbackStatus.REFUSED, "reason": f"{timing} Refused: {exc}"}
        )
        logger.error("rollback refused: %s", exc)
        await _retag([f"rollback:{outcome.status.value}"])
        note("rollback-refused", result_comment(outcome))
        return outcome

    proposed = base.model_copy(update={"reason": timing})
    logger.info("rollback proposed: %s from %s to %s", service.name, listing.current, previous.id)
    await _retag(
        ["rollback:proposed", f"rollback-from:{listing.current}", f"rollback-to:{previous.id}"]
    )
    note("rollback-proposal", proposal_comment(proposed))
    result = await act_on_alert(alert, service, catalog, issue, None, chosen=action)
    if result is None:
        outcome = proposed.model_copy(
            update={
                "status": RollbackStatus.NOT_RUN,
                "reason": f"{timing} The rollback action was refused (see the issue).",
            }
        )
    else:
        status = rollback_status(result.status)
        reason = result.reason or timing
        outcome = proposed.model_copy(update={"status": status, "reason": reason, "action": result})
    if outcome.status is RollbackStatus.FAILED:
        logger.error(
            "ROLLBACK FAILED for %s (%s -> %s): %s; not retried",
            service.name,
            listing.current,
            previous.id,
            outcome.reason,
        )
    await _retag([f"rollback:{outcome.status.value}"])
    note("rollback-result", result_comment(outcome))
    return outcome
