"""Where a decision came from and what its approver name proves.

Prefect's open-source server knows one shared API credential, not people: the approver is
the name the person declared in the form (checked against the catalog's list). An
identity-aware proxy in front of the UI and API decides who may reach the form at all;
its identity never reaches the flow, so nothing here claims it.

A decision that never came is recorded under ``TIMEOUT``: the Prefect server failed the
suspended run when its wait expired. A new channel (a chat button, a tracker comment) adds
its name and the sentence saying what its approver name proves to ``IDENTITY_NOTES``.
"""

from __future__ import annotations

CHANNEL = "prefect-api"
TIMEOUT = "approval-timeout"
IDENTITY_NOTE = (
    f"Channel: `{CHANNEL}`. The approver is the name declared in the form behind the API's "
    "shared credential, not a per-person identity."
)
IDENTITY_NOTES = {
    CHANNEL: IDENTITY_NOTE,
    TIMEOUT: f"Channel: `{TIMEOUT}`. Nobody decided; the Prefect server ended the wait.",
}
SLACK = "slack"
GITHUB = "github"


def identity_note(channel: str = CHANNEL, identity: str = "") -> str:
    """What the recorded approver name proves, for a decision that came through
    ``channel``; ``identity`` is the account the channel verified (Slack user id, GitHub
    login)."""
    if channel == SLACK and identity:
        return (
            f"Channel: `slack`. Verified identity: Slack user `{identity}` (the request was"
            " signed with the Slack app's signing secret; the user is mapped to the approver"
            " in approval.slack_users)."
        )
    if channel == GITHUB and identity:
        return (
            f"Channel: `github`. Verified identity: GitHub account `{identity}` (the webhook"
            " was signed with the webhook secret; the account is mapped to the approver in"
            " approval.github_users and has write permission on the repository)."
        )
    return IDENTITY_NOTES.get(channel, f"Channel: `{channel}`.")
