"""Where a decision came from and what its approver name proves.

Prefect's open-source server knows one shared API credential, not people: the approver is
the name the person declared in the form (checked against the catalog's list). An
identity-aware proxy in front of the UI and API decides who may reach the form at all;
its identity never reaches the flow, so nothing here claims it.
"""

from __future__ import annotations

CHANNEL = "prefect-api"
IDENTITY_NOTE = (
    f"Channel: `{CHANNEL}`. The approver is the name declared in the form behind the API's "
    "shared credential, not a per-person identity."
)
