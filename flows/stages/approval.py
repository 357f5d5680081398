"""The approval gate: the run suspends until a listed approver decides.

Shared by fix proposals, runbook actions, rollbacks and capacity actions; each waits under
its own suspension key so one run can wait for several decisions in turn.
"""

from __future__ import annotations

from typing import TypeVar

from prefect import get_run_logger
from prefect.flow_runs import asuspend_flow_run
from prefect.runtime import flow_run

from remediate.approval.form import Approval, refusal, refused_description
from remediate.approval.record import DecisionRecord, decided, decision_time
from remediate.catalog import Catalog

MAX_APPROVAL_ROUNDS = 20
A = TypeVar("A", bound=Approval)


async def suspend_for_approval(
    model: type[A], description: str, catalog: Catalog, base_key: str
) -> tuple[A, DecisionRecord]:
    """Suspend under ``base_key`` (then ``base_key-2``, ...) until a listed approver decides;
    returns the decision and its record (who, channel, when the server received it).

    The server refuses input that does not fit the form (its answer names the reason). A
    decision the server accepted but the flow refuses (an approver removed from the catalog
    since the run suspended) is logged and the run suspends again under the next key, with
    a description that leads with the reason, so the person sees it when reopening the form.
    """
    logger = get_run_logger()
    approvers = catalog.approval.approvers
    shown = description
    for round_number in range(1, MAX_APPROVAL_ROUNDS + 1):
        key = base_key if round_number == 1 else f"{base_key}-{round_number}"
        decision = await asuspend_flow_run(
            wait_for_input=model.with_initial_data(description=shown),
            timeout=int(catalog.approval.timeout_s),
            key=key,
        )
        reason = refusal(decision, approvers)
        if reason is None:
            run_id = flow_run.get_id()
            assert run_id is not None  # only a flow run can suspend
            return decision, decided(decision, await decision_time(run_id, key))
        logger.warning("decision refused: %s", reason)
        shown = refused_description(reason, description)
    raise RuntimeError(f"no decision from a listed approver after {MAX_APPROVAL_ROUNDS} rounds")
