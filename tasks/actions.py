"""Runbook actions as tasks: the proposal, the run (with its undo hook), the post-condition.

``execute_action`` runs inside a transaction opened by the flow; when the post-condition
task fails, the transaction rolls back and the hook below runs the action's undo. The
flow registers what the hook needs under a token (:func:`expect_undo`) before the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_logger
from prefect.transactions import Transaction, get_transaction
from prefect.utilities.asyncutils import run_coro_as_sync

from remediate.actions.config import RunbookAction
from remediate.actions.models import ActionProposal, ActionRun, HealthCheck
from remediate.actions.runbook import propose, run_action, wait_healthy
from remediate.catalog import Catalog, Service
from remediate.runs.cache import PER_FLOW_RUN


@dataclass
class _Pending:
    service: Service
    catalog: Catalog
    undo: RunbookAction | None
    result: ActionRun | None = None


_PENDING: dict[str, _Pending] = {}


class PostConditionFailed(Exception):
    def __init__(self, health: HealthCheck, reason: str) -> None:
        super().__init__(reason)
        self.health = health


def expect_undo(token: str, service: Service, catalog: Catalog, undo: RunbookAction | None) -> None:
    _PENDING[token] = _Pending(service, catalog, undo)


def undo_result(token: str) -> ActionRun | None:
    """What the undo did, if the transaction rolled back; forgets the token."""
    pending = _PENDING.pop(token, None)
    return pending.result if pending is not None else None


@task(name="propose-action", cache_policy=PER_FLOW_RUN)
def propose_action(
    service: Service, action: RunbookAction, catalog: Catalog, suggested_by: str
) -> ActionProposal:
    return propose(service, action, catalog.redactor(), suggested_by)


@task(name="run-action", task_run_name="run-action-{action.name}", cache_policy=NO_CACHE)
async def execute_action(
    service: Service, action: RunbookAction, catalog: Catalog, token: str
) -> ActionRun:
    transaction = get_transaction()
    if transaction is not None:
        transaction.set("undo-token", token)
    run = await run_action(service, action, catalog.evidence.limits, catalog.redactor())
    log_action_run(action.name, run)
    return run


def log_action_run(name: str, run: ActionRun) -> None:
    logger = get_run_logger()
    if run.http is not None:
        state = run.http.error or f"HTTP {run.http.status_code}"
        logger.info("%s: %s: %s\n%s", name, run.http.request, state, run.http.output)
    for host in run.hosts:
        logger.info(
            "%s on %s: %s\n%s", name, host.host, host.error or host.exit_status, host.output
        )


@execute_action.on_rollback
def _undo(transaction: Transaction) -> None:
    token = transaction.get("undo-token", None)
    pending = _PENDING.get(token) if isinstance(token, str) else None
    if pending is None or pending.undo is None:
        return
    limits = pending.catalog.evidence.limits
    redactor = pending.catalog.redactor()
    get_logger("remediate.actions.runbook").warning(
        "post-condition failed: running undo %s on %s", pending.undo.name, pending.service.name
    )
    pending.result = run_coro_as_sync(run_action(pending.service, pending.undo, limits, redactor))


@task(name="check-post-condition", cache_policy=NO_CACHE)
async def check_post_condition(
    service: Service, action: RunbookAction, run: ActionRun
) -> HealthCheck:
    condition = action.post_condition
    health = await wait_healthy(service, condition.healthy_within_s, condition.interval_s)
    if not run.ok:
        raise PostConditionFailed(health, run.failure)
    if not health.healthy:
        raise PostConditionFailed(
            health, f"health did not return within {condition.healthy_within_s:g} s"
        )
    return health


@task(name="verify-after-undo", cache_policy=NO_CACHE)
async def verify_after_undo(service: Service, action: RunbookAction) -> HealthCheck:
    condition = action.post_condition
    return await wait_healthy(service, condition.healthy_within_s, condition.interval_s)
