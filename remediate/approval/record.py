"""The approved fix decision, kept on its run so a failed publication can be retried.

Prefect deletes a suspension's stored input when the run is re-run from a final state and
the suspension fires again, so an approval would be asked for a second time. The flow
therefore stores an accepted approval under its own key; a retry of a run whose
publication failed reads it back and reuses it only if it still names a listed approver
and the sha256 of the diff the run holds now (the push checks that hash again).
"""

from __future__ import annotations

import json
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.exceptions import PrefectHTTPStatusError
from pydantic import ValidationError

from remediate.approval.form import FixApproval, refusal

RECORD_KEY = "fix-approval-decision"


async def _stored(client: PrefectClient, run_id: str) -> str | None:
    try:
        return await client.read_flow_run_input(UUID(run_id), RECORD_KEY)
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code == 404:
            return None
        raise


async def keep_decision(run_id: str, approval: FixApproval) -> None:
    """Store ``approval`` on the run, once (a resumed run finds it already there)."""
    async with get_client() as client:
        if await _stored(client, run_id) is None:
            await client.create_flow_run_input(UUID(run_id), RECORD_KEY, approval.model_dump_json())


async def kept_decision(
    run_id: str, form: type[FixApproval], approvers: list[str], shown_sha256: str
) -> tuple[FixApproval | None, str]:
    """(the stored approval, "") when it may be reused for the diff ``shown_sha256``, else
    (None, why not)."""
    async with get_client() as client:
        stored = await _stored(client, run_id)
    if stored is None:
        return None, "no approval is recorded on this run"
    try:
        approval = form.model_validate(json.loads(stored))
    except (ValidationError, ValueError) as exc:
        return None, f"the recorded approval is not valid: {type(exc).__name__}"
    reason = refusal(approval, approvers)
    if reason is not None:
        return None, reason
    if not approval.approved:
        return None, "the recorded decision is a rejection"
    if approval.diff_sha256 != shown_sha256:
        return None, (
            f"the recorded approval is for diff {approval.diff_sha256}, the run now holds"
            f" {shown_sha256}"
        )
    return approval, ""
