"""The approval gate: the run suspends until a listed approver decides.

Shared by fix proposals, runbook actions, rollbacks and capacity actions; each waits under
its own suspension key so one run can wait for several decisions in turn.
"""

from __future__ import annotations

from typing import TypeVar

from prefect import get_run_logger
from prefect.flow_runs import asuspend_flow_run
from prefect.runtime import flow_run

from remediate.approval.attestation import DecisionSource, decision_source
from remediate.approval.form import Approval, refusal, refused_description
from remediate.catalog import Catalog

MAX_APPROVAL_ROUNDS = 20
A = TypeVar("A", bound=Approval)


async def suspend_for_approval(
    model: type[A], description: str, catalog: Catalog, base_key: str
) -> A:
    decision, _ = await suspend_for_decision(model, description, catalog, base_key)
    return decision


async def suspend_for_decision(
    model: type[A], description: str, catalog: Catalog, base_key: str
) -> tuple[A, DecisionSource]:
    """Suspend under ``base_key`` (then ``base_key-2``, ...) until a listed approver decides.

    The server refuses input that does not fit the form (its answer names the reason). A
    decision the server accepted but the flow refuses (an approver removed from the catalog
    since the run suspended) is logged and the run suspends again under the next key, with
    a description that leads with the reason, so the person sees it when reopening the form.

    Also returns the channel the decision came through, as far as the run can verify it
    (``remediate/approval/attestation.py``): a Slack or GitHub decision the gateway
    verified, else the name declared behind the Prefect API's shared credential.
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
            source = DecisionSource()
            run_id = flow_run.get_id()
            if run_id:
                source = await decision_source(run_id, key, decision)
            logger.info(
                "decision %s by %s through %s", decision.decision, decision.approver, source.note
            )
            return decision, source
        logger.warning("decision refused: %s", reason)
        shown = refused_description(reason, description)
    raise RuntimeError(f"no decision from a listed approver after {MAX_APPROVAL_ROUNDS} rounds")
