"""The blue-green stage: switch traffic away from a color that just went live.

When the alert fired within ``blue_green.window_s`` after the live color went live, the
action switching to the other color is proposed and runs through the runbook stage
(approval gate, one action per service, transaction, post-condition); when health does
not come back, the transaction rolls back and the action switching back to the live
color runs as its undo, and health is verified again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from flows.stages.actions import act_on_alert, issue_notes
from remediate.actions.config import ActionParameterError
from remediate.alerts import utc
from remediate.bluegreen.live import switch_action, within_window
from remediate.bluegreen.models import LiveColor, SwitchOutcome, SwitchStatus, switch_status
from remediate.bluegreen.text import proposal_comment, result_comment
from remediate.catalog import Catalog
from remediate.controls.dry_run import HEADLINE
from remediate.incident.models import Incident
from remediate.runs.history import recent_run_tagged
from remediate.runs.tags import Key, Would, retag, tag
from tasks.blue_green import read_live_color


def _timing(live: LiveColor, fired_at: datetime, window_s: float) -> str:
    elapsed = (utc(fired_at) - live.since).total_seconds()
    when = live.since.strftime("%Y-%m-%d %H:%M:%S UTC")
    if elapsed < 0:
        return f"Color {live.color} went live at {when}, {-elapsed:.0f} s after the alert fired."
    inside = "within" if elapsed <= window_s else "outside"
    return (
        f"Color {live.color} went live at {when}; the alert fired {elapsed:.0f} s later,"
        f" {inside} the switch window of {window_s:.0f} s."
    )


async def switch_recent_color(incident: Incident, catalog: Catalog) -> SwitchOutcome | None:
    """None when the service has no ``blue_green`` section; otherwise what was decided."""
    service, alert = incident.service, incident.alert
    if service is None or service.blue_green is None:
        return None
    blue_green = service.blue_green
    logger = get_run_logger()
    note = issue_notes(incident, catalog)

    read = await read_live_color(service, catalog)
    base = SwitchOutcome(
        service=service.name,
        status=SwitchStatus.NOT_PROPOSED,
        reason="",
        window_s=blue_green.window_s,
        fired_at=alert.fired_at,
        read=read,
    )
    live = read.live
    if live is None:
        outcome = base.model_copy(
            update={
                "status": SwitchStatus.UNREADABLE,
                "reason": f"Live color read from {read.where}: {read.error}",
            }
        )
        logger.error("live color of %s unusable: %s", service.name, read.error)
        await retag([tag(Key.SWITCH, outcome.status)])
        note("switch-unreadable", result_comment(outcome))
        return outcome

    timing = _timing(live, alert.fired_at, blue_green.window_s)
    target = blue_green.other(live.color)
    base = base.model_copy(update={"target": target})
    if not within_window(live, utc(alert.fired_at), blue_green.window_s):
        logger.info("no blue-green switch: %s", timing)
        return base.model_copy(update={"reason": timing})

    since = utc(alert.fired_at) - timedelta(seconds=blue_green.window_s)
    for failed in (SwitchStatus.SWITCHED_BACK, SwitchStatus.FAILED):
        blocker = await recent_run_tagged(
            [
                tag(Key.SERVICE, service.name),
                tag(Key.SWITCH, failed),
                tag(Key.SWITCH_FROM, live.color),
                tag(Key.SWITCH_TO, target),
            ],
            incident.run_id,
            since,
        )
        if blocker is not None:
            outcome = base.model_copy(
                update={
                    "status": SwitchStatus.BLOCKED,
                    "blocked_by": blocker,
                    "reason": f"{timing} The same switch ended {failed.value} in run {blocker}"
                    f" less than {blue_green.window_s:.0f} s ago; it is not tried again.",
                }
            )
            logger.error("blue-green switch not proposed again: %s", outcome.reason)
            await retag([tag(Key.SWITCH, outcome.status)])
            note("switch-blocked", result_comment(outcome))
            return outcome

    try:
        action = switch_action(service, blue_green, live.color)
    except ActionParameterError as exc:
        outcome = base.model_copy(
            update={"status": SwitchStatus.REFUSED, "reason": f"{timing} Refused: {exc}"}
        )
        logger.error("blue-green switch refused: %s", exc)
        await retag([tag(Key.SWITCH, outcome.status)])
        note("switch-refused", result_comment(outcome))
        return outcome

    proposed = base.model_copy(update={"reason": timing})
    logger.info("blue-green switch proposed: %s from %s to %s", service.name, live.color, target)
    await retag(
        [
            tag(Key.SWITCH, "proposed"),
            tag(Key.SWITCH_FROM, live.color),
            tag(Key.SWITCH_TO, target),
        ]
    )
    note("switch-proposal", proposal_comment(proposed))
    if incident.dry_run:
        await retag([tag(Key.WOULD, Would.SWITCH)])
        await acreate_markdown_artifact(
            key="dry-run-blue-green",
            markdown=f"{HEADLINE}\n\n{proposal_comment(proposed)}",
            description="dry run: the blue-green switch it would propose",
        )
    probed = [h for h in service.health if blue_green.verifies(h.name)]
    verified = service.model_copy(update={"health": probed})
    result = await act_on_alert(
        incident.model_copy(update={"diagnosis": None, "service": verified}),
        catalog,
        action,
        f"blue-green switch to {target}: color {live.color} just went live",
    )
    if result is None:
        outcome = proposed.model_copy(
            update={
                "status": SwitchStatus.NOT_RUN,
                "reason": f"{timing} The switch action was refused (see the issue).",
            }
        )
    else:
        reason = result.reason or timing
        outcome = proposed.model_copy(
            update={"status": switch_status(result.status), "reason": reason, "action": result}
        )
    if outcome.status in (SwitchStatus.FAILED, SwitchStatus.SWITCHED_BACK):
        logger.error(
            "BLUE-GREEN SWITCH %s for %s (%s -> %s): %s",
            outcome.status.value.upper(),
            service.name,
            live.color,
            target,
            outcome.reason,
        )
    await retag([tag(Key.SWITCH, outcome.status)])
    note("switch-result", result_comment(outcome))
    return outcome
