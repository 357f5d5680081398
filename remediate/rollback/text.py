"""How a deployment rollback appears on the issue and in the run's incident artifact."""

from __future__ import annotations

from remediate.markdown import inline, table
from remediate.rollback.models import ReleaseListing, RollbackOutcome, RollbackStatus


def _when(listing: ReleaseListing) -> str:
    return listing.deployed_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def releases_table(listing: ReleaseListing) -> str:
    previous = listing.previous()
    rows = []
    for release in reversed(listing.releases):
        role = ""
        if release.id == listing.current:
            role = f"current, live since {_when(listing)}"
        elif previous is not None and release.id == previous.id:
            role = "previous"
        rows.append([f"`{release.id}`", release.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"), role])
    return table(["release", "created", ""], rows)


def _subject(outcome: RollbackOutcome) -> str:
    listing = outcome.read.listing
    current = listing.current if listing else "?"
    return f"`{outcome.service}` from `{current}` to `{outcome.previous}`"


def proposal_comment(outcome: RollbackOutcome) -> str:
    listing = outcome.read.listing
    lines = [
        f"**Deployment rollback proposed: {_subject(outcome)}.**",
        "",
        inline(outcome.reason, 1000),
    ]
    if listing is not None:
        lines += ["", releases_table(listing)]
    return "\n".join(lines)


def result_comment(outcome: RollbackOutcome) -> str:
    subject = _subject(outcome)
    status = outcome.status
    if status is RollbackStatus.SUCCEEDED:
        return f"**Deployment rollback of {subject} succeeded**: health came back."
    if status is RollbackStatus.FAILED:
        return "\n".join(
            [
                f"## :warning: DEPLOYMENT ROLLBACK FAILED: {subject}",
                "",
                f"**Health did not come back after the rollback.** {inline(outcome.reason, 1000)}",
                "",
                "It is not retried: later alerts for this service will not propose this"
                " rollback again. The service needs a person now.",
            ]
        )
    if status is RollbackStatus.BLOCKED:
        return "\n".join(
            [
                f"## :warning: Deployment rollback not proposed again: {subject}",
                "",
                inline(outcome.reason, 1000),
            ]
        )
    if status in (RollbackStatus.UNREADABLE, RollbackStatus.REFUSED):
        return "\n".join(
            [
                f"**Releases of `{outcome.service}` could not be used; no rollback proposed.**",
                "",
                inline(outcome.reason, 1000),
            ]
        )
    return f"**Deployment rollback of {subject}: {status.value}.** {inline(outcome.reason, 1000)}"


def incident_artifact_section(outcome: RollbackOutcome) -> str:
    lines = [
        "",
        "",
        "## Deployment rollback",
        "",
        f"Status: **{outcome.status.value}**",
        "",
        f"Reason: {inline(outcome.reason, 1000)}",
        "",
        f"Window: {outcome.window_s:g} s after a release; releases read from"
        f" {'host' if outcome.read.via == 'ssh' else 'GitHub deployments of'}"
        f" `{outcome.read.host}`.",
    ]
    if outcome.read.listing is not None:
        lines += ["", releases_table(outcome.read.listing)]
    return "\n".join(lines)
