"""A decision made outside the Prefect UI (Slack buttons, a GitHub comment), taken through
the one approval gate.

The gateway has already verified who decided; here the decision becomes the same typed
form input the UI and ``remediate approve`` send: the server checks it against the form
the run suspended with (the approver allow-list, the diff hash), and the resumed run
checks the approver against the catalog again. The channel and the verified identity go
with it as an attestation the run verifies (``attestation.py``). A refusal is written to
the run's log, so it is recorded where the decision is awaited.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict

from remediate.approval.attestation import DecisionSource, attest, source_key
from remediate.approval.form import Decision
from remediate.approval.waiting import base_of, suspension_key
from remediate.runs.api import PrefectAPI

LOGGER = "remediate.gateway.approvals"


class RemoteDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    base_key: str
    """The suspension the message was about (a refused round suspends again as
    ``<base_key>-2``, ...)."""
    decision: Decision
    approver: str
    comment: str = ""
    diff_sha256: str | None = None
    """The hash of the diff the message showed (Slack); must be the run's."""
    diff_prefix: str = ""
    """Without ``diff_sha256`` (a GitHub comment): the run's hash must start with this."""
    source: DecisionSource


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    accepted: bool
    message: str


async def _form_schema(api: PrefectAPI, run_id: str, key: str) -> dict[str, Any]:
    for prefix in ("suspended", "paused"):
        stored = await api.flow_run_input(run_id, f"{prefix}-{key}-schema")
        if stored is not None:
            value = json.loads(stored)
            schema = json.loads(value) if isinstance(value, str) else value
            return schema if isinstance(schema, dict) else {}
    return {}


async def record_refusal(api: PrefectAPI, run_id: str, message: str) -> None:
    await api.log_to_run(run_id, logging.WARNING, message, LOGGER)


async def decide(api: PrefectAPI, signing_key: bytes, decision: RemoteDecision) -> Outcome:
    """Resume the run with ``decision`` if it still waits for exactly what was shown."""
    run_id, who = decision.run_id, decision.source.identity

    async def refuse(why: str) -> Outcome:
        await record_refusal(
            api, run_id, f"{decision.source.channel} decision by {who} refused: {why}"
        )
        return Outcome(accepted=False, message=why)

    run = await api.flow_run(run_id)
    state = run.get("state") or {}
    if state.get("type") != "PAUSED":
        return Outcome(
            accepted=False,
            message=f"the run is not waiting for a decision (state {state.get('name')})",
        )
    key = suspension_key(state)
    if key is None or base_of(key) != decision.base_key:
        return await refuse("the run waits for another decision than the one in this message")
    run_input: dict[str, Any] = {
        "decision": decision.decision,
        "approver": decision.approver,
        "comment": decision.comment,
    }
    field = (await _form_schema(api, run_id, key)).get("properties", {}).get("diff_sha256")
    if isinstance(field, dict):
        shown = str(field.get("default"))
        named = decision.diff_sha256
        if named is None and shown.startswith(decision.diff_prefix):
            named = shown
        if named != shown:
            return await refuse(
                f"the decision names diff {decision.diff_sha256 or decision.diff_prefix},"
                f" the run shows {shown}"
            )
        run_input["diff_sha256"] = shown
    elif decision.diff_sha256 or decision.diff_prefix:
        named = decision.diff_sha256 or decision.diff_prefix
        return await refuse(f"the decision names diff {named}, but this decision has no diff")
    attestation = attest(signing_key, run_id, key, run_input, decision.source)
    await api.set_flow_run_input(run_id, source_key(key), attestation.model_dump_json())
    accepted, reason = await api.resume_flow_run(run_id, run_input)
    if not accepted:
        await api.delete_flow_run_input(run_id, source_key(key))
        return await refuse(f"the server refused the decision ({reason})")
    verdict = "approved" if decision.decision == "approve" else "rejected"
    await api.log_to_run(
        run_id,
        logging.INFO,
        f"{verdict} by {decision.approver} through {decision.source.channel}"
        f" (verified identity {who})",
        LOGGER,
    )
    return Outcome(accepted=True, message=f"{verdict} by {decision.approver}")
