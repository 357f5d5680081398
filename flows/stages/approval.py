"""The approval gate: the run suspends until a listed approver decides.

Shared by fix proposals, runbook actions, rollbacks and capacity actions; each waits under
its own suspension key so one run can wait for several decisions in turn.
"""

from __future__ import annotations

from typing import TypeVar

from prefect.flow_runs import asuspend_flow_run

from remediate.approval.form import Approval
from remediate.catalog import Catalog

MAX_APPROVAL_ROUNDS = 10
A = TypeVar("A", bound=Approval)


async def suspend_for_approval(
    model: type[A], description: str, catalog: Catalog, base_key: str
) -> A:
    """Suspend under ``base_key`` (then ``base_key-2``, ...) until a listed approver decides.

    A decision from a name not on the list (possible only if the server's schema check
    is bypassed) is ignored and the run suspends again under the next key.
    """
    approvers = catalog.approval.approvers
    for round_number in range(1, MAX_APPROVAL_ROUNDS + 1):
        key = base_key if round_number == 1 else f"{base_key}-{round_number}"
        decision = await asuspend_flow_run(
            wait_for_input=model.with_initial_data(description=description, approved=False),
            timeout=int(catalog.approval.timeout_s),
            key=key,
        )
        if decision is not None and decision.approver in approvers:
            return decision
    raise RuntimeError(f"no valid approval after {MAX_APPROVAL_ROUNDS} rounds")
