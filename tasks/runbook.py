"""The runbook-action stage of the flow: propose, gate, run in a transaction, undo, verify.

The action and its post-condition run inside one transaction. When the post-condition
fails, the transaction rolls back and the action task's rollback hook runs the undo
action; the flow then verifies health once more and records everything. One action per
service runs at a time: a global concurrency limit ``remediate-action-<service>``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from uuid import uuid4

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.logging import get_logger
from prefect.runtime import deployment
from prefect.transactions import Transaction, atransaction, get_transaction
from prefect.utilities.asyncutils import run_coro_as_sync

from remediate.actions.config import ActionParameterError, RunbookAction, Suggestion, suggest
from remediate.actions.models import (
    ActionOutcome,
    ActionProposal,
    ActionRun,
    ActionStatus,
    HealthCheck,
)
from remediate.actions.runbook import propose, run_action, wait_healthy
from remediate.actions.text import approval_description, outcome_markdown, proposal_comment
from remediate.alerts import Alert
from remediate.approval.form import ActionApproval, Approval, approval_input
from remediate.catalog import Catalog, Service
from remediate.diagnosis.findings import findings_of
from remediate.diagnosis.models import Diagnosis
from remediate.trackers.models import IssueRef
from tasks.fix import AWAITING_TAG, _retag, per_flow_run, record_on_issue, suspend_for_approval
from tasks.logs import catalog_redactor

ACTION_APPROVAL_KEY = "action-approval"


def limit_name(service: str) -> str:
    return f"remediate-action-{service}"


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


@task(name="propose-action", cache_key_fn=per_flow_run, persist_result=True)
def propose_action(
    service: Service, action: RunbookAction, catalog: Catalog, suggested_by: str
) -> ActionProposal:
    return propose(service, action, catalog_redactor(catalog), suggested_by)


@task(name="run-action", task_run_name="run-action-{action.name}", cache_policy=NO_CACHE)
async def execute_action(
    service: Service, action: RunbookAction, catalog: Catalog, token: str
) -> ActionRun:
    transaction = get_transaction()
    if transaction is not None:
        transaction.set("undo-token", token)
    run = await run_action(service, action, catalog.evidence.limits, catalog_redactor(catalog))
    _log_run(action.name, run)
    return run


def _log_run(name: str, run: ActionRun) -> None:
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
    redactor = catalog_redactor(pending.catalog)
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


async def ensure_limit(name: str) -> None:
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )


async def wait_for_action_approval(
    proposal: ActionProposal,
    catalog: Catalog,
    issue: IssueRef | None,
    base_key: str = ACTION_APPROVAL_KEY,
) -> Approval:
    """``base_key`` tells apart several approvals one run waits for."""
    model = approval_input(catalog.approval.approvers, base=ActionApproval)
    description = approval_description(proposal, issue.url if issue else None)
    return await suspend_for_approval(model, description, catalog, base_key)


async def _execute(
    service: Service, action: RunbookAction, catalog: Catalog, base: ActionOutcome
) -> ActionOutcome:
    undo = service.action(action.undo) if action.undo else None
    token = uuid4().hex
    _PENDING[token] = _Pending(service, catalog, undo)
    run: ActionRun | None = None
    try:
        async with atransaction():
            run = await execute_action(service, action, catalog, token)
            health = await check_post_condition(service, action, run)
        return base.model_copy(
            update={"status": ActionStatus.SUCCEEDED, "run": run, "health": health}
        )
    except PostConditionFailed as failed:
        undone = _PENDING[token].result
        update: dict[str, object] = {"run": run, "health": failed.health, "reason": str(failed)}
        if undo is None:
            update["status"] = ActionStatus.FAILED
        else:
            if undone is not None:
                _log_run(f"undo {undo.name}", undone)
            after = await verify_after_undo(service, undo)
            restored = after.healthy and undone is not None and undone.ok
            update |= {
                "undo": undone,
                "health_after_undo": after,
                "status": ActionStatus.UNDONE if restored else ActionStatus.UNDO_FAILED,
            }
        return base.model_copy(update=update)
    finally:
        _PENDING.pop(token, None)


async def run_under_limit(
    service: Service, action: RunbookAction, catalog: Catalog, base: ActionOutcome
) -> ActionOutcome:
    """Run a decided action while holding the service's limit: post-condition, undo."""
    name = limit_name(service.name)
    await ensure_limit(name)
    async with concurrency(name, occupy=1, strict=True):
        return await _execute(service, action, catalog, base)


async def act_on_alert(
    alert: Alert,
    service: Service | None,
    catalog: Catalog,
    issue: IssueRef | None,
    diagnosis: Diagnosis | None,
    chosen: RunbookAction | None = None,
) -> ActionOutcome | None:
    """The stage of the flow after diagnosis; None when the catalog suggests no action.

    An action is suggested by the alert's check id or, failing that, by one of the
    diagnosis findings about the alert's service. ``chosen`` (a rollback bound to its
    release) replaces the suggestion."""
    if service is None:
        return None
    suggestion = (
        Suggestion(chosen, "deployment rollback of a release that just went live")
        if chosen is not None
        else suggest(service.actions, alert.check_id, findings_of(diagnosis, service.name))
    )
    if suggestion is None:
        return None
    action = suggestion.action
    logger = get_run_logger()

    def note(suffix: str, text: str) -> None:
        if issue is not None:
            record_on_issue(catalog, service, issue, f"{alert.occurrence_key}:{suffix}", text)

    try:
        proposal = propose_action(service, action, catalog, suggestion.reason)
    except ActionParameterError as exc:
        logger.error("runbook action refused: %s", exc)
        note("action-refused", f"**Runbook action `{action.name}` refused:** {exc}")
        return None
    logger.info(
        "runbook action proposed: %s on %s (suggested by %s)",
        action.name,
        service.name,
        proposal.suggested_by,
    )
    await _retag([f"action:{action.name}"])
    note("action-proposal", proposal_comment(proposal))
    return await decide_and_run(service, action, catalog, issue, proposal, note)


async def decide_and_run(
    service: Service,
    action: RunbookAction,
    catalog: Catalog,
    issue: IssueRef | None,
    proposal: ActionProposal,
    note: Callable[[str, str], None],
    *,
    awaiting_tag: str = AWAITING_TAG,
    approval_key: str = ACTION_APPROVAL_KEY,
) -> ActionOutcome:
    """The gate (unless unattended and low risk), then the run under the service's limit."""
    logger = get_run_logger()
    base = ActionOutcome(proposal=proposal, gate="unattended", status=ActionStatus.NOT_RUN)
    if not action.unattended:
        reason = ""
        if not catalog.approval.approvers:
            reason = "approval.approvers is empty: nobody can approve it"
        elif deployment.get_id() is None:
            reason = "this run has no deployment, so it cannot wait for approval"
        if reason:
            logger.warning("runbook action not run: %s", reason)
            outcome = base.model_copy(update={"gate": "unavailable", "reason": reason})
            note("action-result", outcome_markdown(outcome))
            return outcome
        await _retag([awaiting_tag, *([f"issue:{issue.number}"] if issue else [])])
        approval = await wait_for_action_approval(proposal, catalog, issue, approval_key)
        verdict = "approved" if approval.approved else "rejected"
        await _retag([f"action-approval:{verdict}"], remove=(awaiting_tag,))
        base = base.model_copy(
            update={"gate": verdict, "approver": approval.approver, "comment": approval.comment}
        )
        if not approval.approved:
            outcome = base.model_copy(update={"status": ActionStatus.REJECTED})
            logger.info("runbook action rejected by %s", approval.approver)
            note("action-result", outcome_markdown(outcome))
            return outcome
    else:
        logger.info("runbook action %s is unattended and low risk: no approval gate", action.name)
    outcome = await run_under_limit(service, action, catalog, base)
    logger.info("runbook action %s: %s", action.name, outcome.status.value)
    await _retag([f"action-status:{outcome.status.value}"])
    note("action-result", outcome_markdown(outcome))
    return outcome
