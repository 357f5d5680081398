"""The runbook-action stage: propose, gate, run in a transaction, undo, verify.

The action and its post-condition run inside one transaction. When the post-condition
fails, the transaction rolls back and the action task's rollback hook runs the undo
action; the flow then verifies health once more and records everything. One action per
service runs at a time: a global concurrency limit ``remediate-action-<service>``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from uuid import uuid4

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError, concurrency
from prefect.runtime import deployment, flow_run
from prefect.transactions import atransaction

from flows.stages.approval import record_judgement, suspend_for_decision
from flows.stages.controls import held_back
from flows.stages.notices import tell
from remediate.actions.config import ActionParameterError, RunbookAction, Suggestion, suggest
from remediate.actions.models import ActionOutcome, ActionProposal, ActionRun, ActionStatus
from remediate.actions.text import approval_description, outcome_markdown, proposal_comment
from remediate.approval.form import ActionApproval, approval_input
from remediate.catalog import Catalog, Service
from remediate.controls.audit import action_run_entry
from remediate.controls.breakers import actions_budget
from remediate.controls.dry_run import would_run_action
from remediate.diagnosis.findings import findings_of
from remediate.incident.models import Incident
from remediate.investigation.models import Hypothesis
from remediate.investigation.text import judgement_request, leading_hypothesis
from remediate.notifications import events
from remediate.runs.limits import action_limit_name, ensure_limit
from remediate.runs.tags import Flag, Key, Verdict, Would, retag, tag
from remediate.settings import get_settings
from remediate.trackers.models import IssueRef
from tasks.actions import (
    PostConditionFailed,
    check_post_condition,
    execute_action,
    expect_undo,
    log_action_run,
    propose_action,
    undo_result,
    verify_after_undo,
)
from tasks.approval import record_decision
from tasks.controls import record_audit
from tasks.trackers import record_on_issue

ACTION_APPROVAL_KEY = "action-approval"

Note = Callable[[str, str], None]


async def _execute(
    service: Service, action: RunbookAction, catalog: Catalog, base: ActionOutcome
) -> ActionOutcome:
    undo = service.action(action.undo) if action.undo else None
    token = uuid4().hex
    expect_undo(token, service, catalog, undo)
    run: ActionRun | None = None
    try:
        async with atransaction():
            run = await execute_action(service, action, catalog, token)
            health = await check_post_condition(service, action, run)
        return base.model_copy(
            update={"status": ActionStatus.SUCCEEDED, "run": run, "health": health}
        )
    except PostConditionFailed as failed:
        undone = undo_result(token)
        update: dict[str, object] = {"run": run, "health": failed.health, "reason": str(failed)}
        if undo is None:
            update["status"] = ActionStatus.FAILED
        else:
            if undone is not None:
                log_action_run(f"undo {undo.name}", undone)
            after = await verify_after_undo(service, undo)
            restored = after.healthy and undone is not None and undone.ok
            update |= {
                "undo": undone,
                "health_after_undo": after,
                "status": ActionStatus.UNDONE if restored else ActionStatus.UNDO_FAILED,
            }
        return base.model_copy(update=update)
    finally:
        undo_result(token)


async def run_under_limit(
    service: Service, action: RunbookAction, catalog: Catalog, base: ActionOutcome
) -> ActionOutcome:
    """Run a decided action while holding the service's limit: post-condition, undo."""
    name = action_limit_name(service.name)
    await ensure_limit(name)
    async with contextlib.AsyncExitStack() as slot:
        try:
            await slot.enter_async_context(concurrency(name, strict=True, max_retries=0))
        except ConcurrencySlotAcquisitionError:
            get_run_logger().info(
                "another runbook action on %s is running: %s waits for it to finish",
                service.name,
                action.name,
            )
            await slot.enter_async_context(concurrency(name, strict=True))
        return await _execute(service, action, catalog, base)


def issue_notes(incident: Incident, catalog: Catalog) -> Note:
    """Records ``text`` on the incident's issue once per ``suffix``; nothing without one."""
    issue = incident.issue

    def note(suffix: str, text: str) -> None:
        if issue is not None:
            record_on_issue(catalog, incident.tracker_service, issue, incident.key(suffix), text)

    return note


async def act_on_alert(
    incident: Incident,
    catalog: Catalog,
    chosen: RunbookAction | None = None,
    chosen_because: str = "deployment rollback of a release that just went live",
) -> ActionOutcome | None:
    """The stage of the flow after diagnosis; None when the catalog suggests no action.

    An action is suggested by the alert's check id or, failing that, by one of the
    diagnosis findings about the alert's service. ``chosen`` (a rollback bound to its
    release, a blue-green switch) replaces the suggestion, proposed ``chosen_because``."""
    service = incident.service
    if service is None:
        return None
    suggestion = (
        Suggestion(chosen, chosen_because)
        if chosen is not None
        else suggest(
            service.actions,
            incident.alert.check_id,
            findings_of(incident.diagnosis, service.name),
        )
    )
    from_investigation = False
    if suggestion is None:
        suggestion = investigation_suggestion(incident, service)
        from_investigation = suggestion is not None
    if suggestion is None:
        return None
    action = suggestion.action
    logger = get_run_logger()
    note = issue_notes(incident, catalog)
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
    await retag([tag(Key.ACTION, action.name)])
    note("action-proposal", proposal_comment(proposal))
    return await decide_and_run(
        service,
        action,
        catalog,
        incident.issue,
        proposal,
        note,
        always_gate=from_investigation,
        hypothesis=leading_hypothesis(incident.investigation),
        dry_run=incident.dry_run,
    )


def investigation_suggestion(incident: Incident, service: Service) -> Suggestion | None:
    """The catalog action the investigation names, with the parameter values it gave
    (checked again here), proposed like any other suggestion."""
    investigation = incident.investigation
    if investigation is None or investigation.suggested_action is None:
        return None
    action = service.action(investigation.suggested_action)
    if action is None:
        return None
    values = investigation.suggested_parameters
    reason = "the model investigation (checked citations)"
    if values:
        try:
            action = action.bound(values)
        except ActionParameterError as exc:
            get_run_logger().warning("investigation's action not proposed: %s", exc)
            return None
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        reason += f"; parameter values from the model: {shown}"
    return Suggestion(action, reason)


def _run_url() -> str | None:
    run_id = flow_run.get_id()
    return get_settings().flow_run_url(run_id) if run_id else None


async def decide_and_run(
    service: Service,
    action: RunbookAction,
    catalog: Catalog,
    issue: IssueRef | None,
    proposal: ActionProposal,
    note: Note,
    *,
    awaiting: Flag = Flag.AWAITING_APPROVAL,
    approval_key: str = ACTION_APPROVAL_KEY,
    always_gate: bool = False,
    hypothesis: Hypothesis | None = None,
    dry_run: bool = False,
) -> ActionOutcome:
    """The gate (unless unattended and low risk), then the run under the service's limit.

    ``always_gate``: an action a model proposed goes through the gate even when the
    catalog marks it unattended. ``hypothesis``: the investigation's leading hypothesis,
    shown on the form for the approver to judge. ``dry_run``: record what would happen
    (the artifact ``dry-run-<approval_key>``) and neither ask nor run."""
    logger = get_run_logger()
    base = ActionOutcome(proposal=proposal, gate="unattended", status=ActionStatus.NOT_RUN)
    what = f"Runbook action {action.name}"

    async def stopped(outcome: ActionOutcome, reason: str) -> ActionOutcome:
        outcome = outcome.model_copy(update={"reason": reason})
        await retag([tag(Key.ACTION_STATUS, outcome.status.value)])
        note("action-result", outcome_markdown(outcome))
        return outcome

    stop = await held_back(f"{approval_key}-ask", what, catalog, None)
    if stop is not None:
        return await stopped(base.model_copy(update={"gate": "unavailable"}), stop)
    gated = always_gate or not action.unattended
    if dry_run:
        await acreate_markdown_artifact(
            key=f"dry-run-{approval_key}",
            markdown=would_run_action(proposal, gated, catalog.approval),
            description=f"dry run: the runbook action it would run ({action.name})",
        )
        would = [Would.RUN_ACTION, *([Would.ASK_APPROVAL] if gated else [])]
        await retag([tag(Key.WOULD, w) for w in would])
        reason = "dry run: " + ("would ask for approval, then run" if gated else "would run")
        return base.model_copy(update={"gate": "dry-run", "reason": reason})
    if gated:
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
        waiting = [awaiting, tag(Key.RISK, proposal.risk)]
        await retag([*waiting, *([tag(Key.ISSUE, issue.number)] if issue else [])])
        model = approval_input(catalog.approval.approvers, base=ActionApproval)
        description = approval_description(
            proposal, issue.url if issue else None
        ) + judgement_request(hypothesis, catalog.redactor())
        await tell(
            events.action_approval_requested(
                what, proposal, flow_run.get_id(), _run_url(), issue, approval_key
            ),
            catalog,
        )
        approval, decision = await suspend_for_decision(model, description, catalog, approval_key)
        verdict = Verdict.APPROVED if approval.approved else Verdict.REJECTED
        await retag([tag(Key.ACTION_APPROVAL, verdict)], remove=[awaiting])
        logger.info("runbook action %s %s", action.name, decision.line())
        subject = f"Runbook action `{action.name}`"
        await record_decision("action-decision", approval_key, subject, decision)
        await record_judgement(approval, hypothesis, "action", catalog, note)
        base = base.model_copy(update={"gate": verdict.value, "decision": decision})
        channel = (
            f"{decision.channel} ({decision.identity})" if decision.identity else decision.channel
        )
        await tell(
            events.decided(
                f"Runbook action {action.name}",
                approval_key,
                approval.approved,
                approval.approver,
                channel,
                approval.comment,
                _run_url(),
                issue,
            ),
            catalog,
        )
        if not approval.approved:
            outcome = base.model_copy(update={"status": ActionStatus.REJECTED})
            note("action-result", outcome_markdown(outcome))
            return outcome
    else:
        logger.info("runbook action %s is unattended and low risk: no approval gate", action.name)
    per_hour = catalog.controls.breakers.actions_per_service_per_hour
    budget = actions_budget(service.name, per_hour) if per_hour else None
    stop = await held_back(f"{approval_key}-run", what, catalog, budget)
    if stop is not None:
        return await stopped(base, stop)
    outcome = await run_under_limit(service, action, catalog, base)
    logger.info("runbook action %s: %s", action.name, outcome.status.value)
    await record_audit(f"{approval_key}-run", action_run_entry(outcome))
    await retag([tag(Key.ACTION_STATUS, outcome.status.value)])
    note("action-result", outcome_markdown(outcome))
    finished = events.action_finished(outcome, approval_key, _run_url(), issue)
    if finished is not None:
        await tell(finished, catalog)
    return outcome
