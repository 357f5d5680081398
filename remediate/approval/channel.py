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


def identity_note(channel: str) -> str:
    return IDENTITY_NOTES.get(channel, f"Channel: `{channel}`.")
