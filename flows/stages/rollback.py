"""The deployment-rollback stage: roll back a release that just went live.

When the alert fired within ``releases.window_s`` after the current release went live and
an older release exists, the service's rollback action is proposed with that release as
its parameter and runs through the runbook stage (approval gate, one action per service,
transaction with undo, post-condition). A rollback that fails is reported loudly, tagged
``rollback:failed`` and never proposed again for the same pair of releases: the run
history is searched before proposing.
"""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from flows.stages.actions import act_on_alert, issue_notes
from remediate.actions.config import ActionParameterError
from remediate.alerts import utc
from remediate.catalog import Catalog
from remediate.controls.dry_run import HEADLINE
from remediate.incident.models import Incident
from remediate.rollback.models import RollbackOutcome, RollbackStatus, rollback_status
from remediate.rollback.ssh_releases import rollback_action, within_window
from remediate.rollback.text import proposal_comment, result_comment
from remediate.runs.history import another_run_tagged
from remediate.runs.tags import Key, Would, retag, tag
from tasks.rollback import read_service_releases


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


async def roll_back_recent_release(incident: Incident, catalog: Catalog) -> RollbackOutcome | None:
    """None when the service has no ``releases`` section; otherwise what was decided."""
    service, alert = incident.service, incident.alert
    if service is None or service.releases is None:
        return None
    source = service.releases
    logger = get_run_logger()
    note = issue_notes(incident, catalog)

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
        await retag([tag(Key.ROLLBACK, outcome.status)])
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

    blocker = await another_run_tagged(
        [
            tag(Key.SERVICE, service.name),
            tag(Key.ROLLBACK, RollbackStatus.FAILED),
            tag(Key.ROLLBACK_FROM, listing.current),
            tag(Key.ROLLBACK_TO, previous.id),
        ],
        incident.run_id,
    )
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
        await retag([tag(Key.ROLLBACK, outcome.status)])
        note("rollback-blocked", result_comment(outcome))
        return outcome

    try:
        action = rollback_action(service, source, previous.id)
    except ActionParameterError as exc:
        outcome = base.model_copy(
            update={"status": RollbackStatus.REFUSED, "reason": f"{timing} Refused: {exc}"}
        )
        logger.error("rollback refused: %s", exc)
        await retag([tag(Key.ROLLBACK, outcome.status)])
        note("rollback-refused", result_comment(outcome))
        return outcome

    proposed = base.model_copy(update={"reason": timing})
    logger.info("rollback proposed: %s from %s to %s", service.name, listing.current, previous.id)
    await retag(
        [
            tag(Key.ROLLBACK, "proposed"),
            tag(Key.ROLLBACK_FROM, listing.current),
            tag(Key.ROLLBACK_TO, previous.id),
        ]
    )
    note("rollback-proposal", proposal_comment(proposed))
    if incident.dry_run:
        await retag([tag(Key.WOULD, Would.ROLL_BACK)])
        await acreate_markdown_artifact(
            key="dry-run-rollback",
            markdown=f"{HEADLINE}\n\n{proposal_comment(proposed)}",
            description="dry run: the rollback it would propose",
        )
    result = await act_on_alert(incident.model_copy(update={"diagnosis": None}), catalog, action)
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
    await retag([tag(Key.ROLLBACK, outcome.status)])
    note("rollback-result", result_comment(outcome))
    return outcome
