"""The fix stage: propose, record on the issue, wait for a person's decision, publish."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.runtime import deployment

from flows.stages.approval import suspend_for_approval
from remediate.approval.form import FixApproval, approval_description, fix_approval_input
from remediate.catalog import Catalog
from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal, PullRequestRef
from remediate.fixer.publish import PublishError
from remediate.fixer.text import decision_comment, mismatch_comment, proposal_comment
from remediate.incident.models import Incident
from remediate.markdown import inline
from remediate.runs.occurrences import alert_resolved
from remediate.runs.tags import Flag, Key, Stage, Verdict, retag, tag
from tasks.approval import notify_approvers
from tasks.fixer import open_pull_request, propose_fix_task, publish_diff_artifact
from tasks.trackers import record_on_issue

APPROVAL_KEY = "fix-approval"


async def fix_and_review(
    incident: Incident, catalog: Catalog
) -> tuple[FixProposal, FixApproval | None, PullRequestRef | None]:
    logger = get_run_logger()
    service, issue = incident.service, incident.issue

    def note(suffix: str, text: str) -> None:
        if issue is not None:
            record_on_issue(catalog, service, issue, incident.key(suffix), text)

    proposal = await propose_fix_task(incident, catalog)
    await retag([tag(Key.FIX, proposal.status.value)])
    note("fix", proposal_comment(proposal))
    if proposal.diff:
        await publish_diff_artifact(proposal)
    if not proposal.awaits_approval or service is None:
        return proposal, None, None
    if not catalog.approval.approvers:
        logger.warning("fix proposed but approval.approvers is empty: nobody can approve it")
        return proposal, None, None
    if deployment.get_id() is None:
        logger.warning("fix proposed but this run has no deployment, so it cannot wait")
        return proposal, None, None
    if incident.run_id and await alert_resolved(incident.run_id):
        logger.warning("alert resolved since the run started; the fix still goes to approval")
        await retag([tag(Key.RESOLVED_BEFORE, Stage.APPROVAL)])
    await retag([Flag.AWAITING_APPROVAL, *([tag(Key.ISSUE, issue.number)] if issue else [])])
    if catalog.approval.notify:
        await notify_approvers(incident, proposal, catalog)
    description = approval_description(
        proposal, issue.url if issue else None, artifact_key="fix-diff"
    )
    shown = diff_sha256(proposal.diff)
    form = fix_approval_input(catalog.approval.approvers, shown)
    approval = await suspend_for_approval(form, description, catalog, APPROVAL_KEY)
    verdict = Verdict.APPROVED if approval.approved else Verdict.REJECTED
    await retag([tag(Key.APPROVAL, verdict)], remove=[Flag.AWAITING_APPROVAL])
    note("fix-decision", decision_comment(approval))
    if not approval.approved:
        logger.info("fix rejected by %s", approval.approver)
        return proposal, approval, None
    if approval.diff_sha256 != shown:
        logger.error(
            "approval for diff %s, proposal is %s: nothing pushed", approval.diff_sha256, shown
        )
        note("fix-pull", mismatch_comment(approval, shown))
        return proposal, approval, None
    try:
        pull = open_pull_request(incident, service, catalog, proposal, approval)
    except PublishError as exc:
        logger.error("approved fix not published: %s", exc)
        note("fix-pull", f"The approved fix could not be published: {inline(str(exc), 1500)}")
        return proposal, approval, None
    logger.info("pull request %s: %s", pull.number, pull.url)
    note(
        "fix-pull",
        f"Pull request opened after approval by {inline(approval.approver, 100)}: {pull.url}",
    )
    return proposal, approval, pull
