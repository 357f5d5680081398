"""How a blue-green switch appears on the issue and in the run's incident artifact."""

from __future__ import annotations

from remediate.bluegreen.models import SwitchOutcome, SwitchStatus
from remediate.markdown import inline


def _subject(outcome: SwitchOutcome) -> str:
    live = outcome.read.live
    return f"`{outcome.service}` from `{live.color if live else '?'}` to `{outcome.target}`"


def proposal_comment(outcome: SwitchOutcome) -> str:
    return "\n".join(
        [
            f"**Blue-green switch proposed: {_subject(outcome)}.**",
            "",
            inline(outcome.reason, 1000),
        ]
    )


def result_comment(outcome: SwitchOutcome) -> str:
    subject = _subject(outcome)
    status = outcome.status
    reason = inline(outcome.reason, 1000)
    if status is SwitchStatus.SUCCEEDED:
        return f"**Blue-green switch of {subject} succeeded**: health came back."
    if status is SwitchStatus.SWITCHED_BACK:
        return "\n".join(
            [
                f"## :warning: Blue-green switch of {subject} switched back",
                "",
                f"**Health did not come back after the switch**: {reason} Traffic was switched"
                " back and health is verified again. The service needs a person.",
            ]
        )
    if status is SwitchStatus.FAILED:
        return "\n".join(
            [
                f"## :warning: BLUE-GREEN SWITCH FAILED: {subject}",
                "",
                f"{reason} Switching back did not restore health, or could not run.",
                "The service needs a person now.",
            ]
        )
    if status is SwitchStatus.BLOCKED:
        return "\n".join(
            [f"## :warning: Blue-green switch not proposed again: {subject}", "", reason]
        )
    if status in (SwitchStatus.UNREADABLE, SwitchStatus.REFUSED):
        return "\n".join(
            [
                f"**Live color of `{outcome.service}` could not be used; no switch proposed.**",
                "",
                reason,
            ]
        )
    return f"**Blue-green switch of {subject}: {status.value}.** {reason}"


def incident_artifact_section(outcome: SwitchOutcome) -> str:
    live = outcome.read.live
    lines = [
        "",
        "",
        "## Blue-green switch",
        "",
        f"Status: **{outcome.status.value}**",
        "",
        f"Reason: {inline(outcome.reason, 1000)}",
        "",
        f"Window: {outcome.window_s:g} s after the live color went live; read from"
        f" {inline(outcome.read.where, 300)}.",
    ]
    if live is not None:
        since = live.since.strftime("%Y-%m-%d %H:%M:%S UTC")
        lines += ["", f"Live: `{live.color}` since {since}."]
        if outcome.target is not None:
            lines[-1] += f" Other color: `{outcome.target}`."
    return "\n".join(lines)
