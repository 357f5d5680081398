"""The fix stage: propose, record on the issue, wait for a person's decision, publish."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import NamedTuple

from prefect import get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import deployment, flow_run

from flows.stages.approval import record_judgement, suspend_for_decision
from flows.stages.controls import charged, held_back, spend_budget_of
from flows.stages.notices import tell
from remediate.approval.form import FixApproval, approval_description, fix_approval_input
from remediate.approval.record import (
    DecisionRecord,
    keep_decision,
    kept_decision,
    publication_attempt,
)
from remediate.catalog import Catalog
from remediate.controls.audit import AuditEntry, Kind
from remediate.controls.breakers import fix_budget
from remediate.controls.dry_run import would_fix
from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal, FixStatus, PullRequestRef
from remediate.fixer.propose import skip_reason
from remediate.fixer.publish import PublishError
from remediate.fixer.text import decision_comment, mismatch_comment, proposal_comment
from remediate.incident.models import Incident
from remediate.investigation.text import judgement_request, leading_hypothesis
from remediate.markdown import inline
from remediate.notifications import events
from remediate.runs.occurrences import alert_resolved
from remediate.runs.tags import Flag, Key, Publish, Stage, Verdict, Would, retag, tag
from tasks.approval import notify_approvers, notify_publish_failed, record_decision
from tasks.controls import record_audit
from tasks.fixer import open_pull_request, propose_fix_task, publish_diff_artifact
from tasks.trackers import record_on_issue

APPROVAL_KEY = "fix-approval"


class FixReview(NamedTuple):
    proposal: FixProposal
    approval: FixApproval | None
    decision: DecisionRecord | None
    pull: PullRequestRef | None
    not_published: str | None = None
    """Why an approved fix was not published (the run then ends Failed with this)."""


def _retrying_publication() -> bool:
    return tag(Key.PUBLISH, Publish.FAILED) in (flow_run.get_tags() or [])


async def _decision(
    incident: Incident,
    catalog: Catalog,
    proposal: FixProposal,
    form: type[FixApproval],
    diff_url: str | None,
) -> tuple[FixApproval, DecisionRecord]:
    """The approval (and its record) kept from an earlier attempt whose publication failed,
    else a new one."""
    logger = get_run_logger()
    shown = diff_sha256(proposal.diff)
    if incident.run_id and _retrying_publication():
        kept, why = await kept_decision(incident.run_id, form, catalog.approval.approvers, shown)
        if kept is not None:
            logger.info(
                "retrying publication with the approval %s gave at %s for diff %s: no new approval",
                kept[1].approver,
                kept[1].when,
                shown,
            )
            return kept
        logger.warning("the recorded approval cannot be reused (%s): asking again", why)
    issue = incident.issue
    if incident.run_id and await alert_resolved(incident.run_id):
        logger.warning("alert resolved since the run started; the fix still goes to approval")
        await retag([tag(Key.RESOLVED_BEFORE, Stage.APPROVAL)])
    waiting = [Flag.AWAITING_APPROVAL, tag(Key.RISK, proposal.risk.value)]
    await retag([*waiting, *([tag(Key.ISSUE, issue.number)] if issue else [])])
    if catalog.approval.notify:
        await notify_approvers(incident, proposal, catalog)
    await tell(
        events.approval_requested(
            incident.alert, proposal, incident.run_id, incident.run_url, issue, APPROVAL_KEY
        ),
        catalog,
    )
    description = approval_description(
        proposal, issue.url if issue else None, artifact_key="fix-diff", artifact_url=diff_url
    ) + judgement_request(leading_hypothesis(incident.investigation), catalog.redactor())
    return await suspend_for_decision(form, description, catalog, APPROVAL_KEY)


async def fix_and_review(incident: Incident, catalog: Catalog) -> FixReview:
    logger = get_run_logger()
    service, issue = incident.service, incident.issue

    def note(suffix: str, text: str) -> None:
        if issue is not None:
            record_on_issue(catalog, service, issue, incident.key(suffix), text)

    async def not_published(
        cause: str, suffix: str, text: str, proposal: FixProposal, decision: DecisionRecord
    ) -> str:
        logger.error("approved fix not published: %s", cause)
        # one comment per distinct cause, so a retry failing the same way repeats nothing
        digest = hashlib.sha256(cause.encode()).hexdigest()[:12]
        note(f"{suffix}-{digest}", text)
        await retag([tag(Key.PUBLISH, Publish.FAILED)], replace=[Key.PUBLISH])
        if catalog.approval.notify and incident.run_id:
            attempt = await publication_attempt(incident.run_id)
            await notify_publish_failed(incident, proposal, decision, cause, attempt, catalog)
        return cause

    # only a proposal that would start a model session spends the daily budgets
    per_day = catalog.controls.breakers.fix_proposals_per_day
    session = skip_reason(incident.alert, service, catalog.fixer) is None
    budget = fix_budget(per_day) if per_day is not None and session else None
    spend = spend_budget_of(catalog) if session else None
    stop = await held_back("fix-proposal", "Fix proposal", catalog, budget, spend)
    if stop is not None:
        note("fix-stopped", f"**Fix proposal: not started.** {inline(stop, 1500)}")
        return FixReview(FixProposal(status=FixStatus.SKIPPED, reason=stop), None, None, None)
    proposal = await propose_fix_task(incident, catalog)
    await charged("fix-proposal", spend, proposal.cost_usd)
    await retag([tag(Key.FIX, proposal.status.value)])
    note("fix", proposal_comment(proposal))
    diff_url = await publish_diff_artifact(proposal) if proposal.diff else None
    if incident.dry_run:
        waits = proposal.awaits_approval and service is not None
        await acreate_markdown_artifact(
            key="dry-run-fix",
            markdown=would_fix(proposal, catalog.approval, waits),
            description="dry run: the fix it would propose",
        )
        would = [Would.PROPOSE_FIX, *([Would.ASK_APPROVAL] if waits else [])]
        await retag([tag(Key.WOULD, w) for w in would])
        return FixReview(proposal, None, None, None)
    if not proposal.awaits_approval or service is None:
        return FixReview(proposal, None, None, None)
    if not catalog.approval.approvers:
        logger.warning("fix proposed but approval.approvers is empty: nobody can approve it")
        return FixReview(proposal, None, None, None)
    if deployment.get_id() is None:
        logger.warning("fix proposed but this run has no deployment, so it cannot wait")
        return FixReview(proposal, None, None, None)
    shown = diff_sha256(proposal.diff)
    form = fix_approval_input(catalog.approval.approvers, shown)
    approval, decision = await _decision(incident, catalog, proposal, form, diff_url)
    verdict = Verdict.APPROVED if approval.approved else Verdict.REJECTED
    await retag([tag(Key.APPROVAL, verdict)], remove=[Flag.AWAITING_APPROVAL])
    logger.info("fix %s", decision.line())
    await record_decision("fix-decision", APPROVAL_KEY, "Fix", decision)
    note("fix-decision", decision_comment(decision))
    await tell(
        events.decided(
            "Fix",
            APPROVAL_KEY,
            approval.approved,
            approval.approver,
            (decision.identity and f"{decision.channel} ({decision.identity})") or decision.channel,
            approval.comment,
            incident.run_url,
            issue,
        ),
        catalog,
    )
    hypothesis = leading_hypothesis(incident.investigation)
    await record_judgement(approval, hypothesis, "fix", catalog, note)
    if not approval.approved:
        return FixReview(proposal, approval, decision, None)
    if incident.run_id:
        await keep_decision(incident.run_id, approval, decision)
    if approval.diff_sha256 != shown:
        cause = f"the approval is for diff {approval.diff_sha256}, the proposal is {shown}"
        text = mismatch_comment(approval, shown)
        failed = await not_published(cause, "fix-pull", text, proposal, decision)
        return FixReview(proposal, approval, decision, None, failed)
    stop = await held_back("fix-publish", "Approved fix", catalog, None)
    if stop is not None:
        note("fix-publish-stopped", f"**Approved fix not published.** {inline(stop, 1500)}")
        return FixReview(proposal, approval, decision, None)
    try:
        pull = open_pull_request(incident, service, catalog, proposal, approval, decision)
    except PublishError as exc:
        cause = str(exc)
        text = (
            f"**Approved fix not published.** {inline(cause, 1500)}\n\n"
            f"Retry without a new approval: `remediate retry-publish {incident.run_id}`."
        )
        failed = await not_published(cause, "fix-publish", text, proposal, decision)
        return FixReview(proposal, approval, decision, None, failed)
    logger.info("pull request %s: %s", pull.number, pull.url)
    pulled = [tag(Key.PULL, pull.number)] if pull.kind == "github" else []
    await retag([tag(Key.PUBLISH, Publish.PUBLISHED), *pulled], replace=[Key.PUBLISH])
    published = AuditEntry(
        at=datetime.now(UTC),
        kind=Kind.FIX_PUBLISHED,
        subject=pull.branch,
        actor=decision.approver or "",
        reason=pull.url,
    )
    await record_audit("fix-published", published)
    note("fix-pull", f"Pull request opened after approval ({decision.line()}): {pull.url}")
    await tell(events.pull_request_opened(incident.alert, pull, incident.run_url, issue), catalog)
    return FixReview(proposal, approval, decision, pull)
