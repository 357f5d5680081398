"""Propose a fix, wait for a person's decision, then push a branch and open a PR.

Everything before the approval gate must survive the flow being run again from the top
after a suspended run is resumed: the proposal is a persisted task result cached per flow
run, and every tracker write is keyed so a second attempt finds the first.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.context import TaskRunContext
from prefect.flow_runs import asuspend_flow_run
from prefect.runtime import deployment, flow_run

from remediate.alerts import Alert
from remediate.approval.form import Approval, approval_description, approval_input
from remediate.approval.notify import Delivery, notify, webhook_payload
from remediate.catalog import Catalog, Service
from remediate.diagnosis.models import Diagnosis, Verification
from remediate.fixer.git import sends_token_safely
from remediate.fixer.models import FixProposal, FixStatus, PullRequestRef
from remediate.fixer.propose import propose_fix
from remediate.fixer.publish import (
    PublishError,
    commit_message,
    local_remote,
    open_github_pull,
    pull_body,
    pull_title,
    push_branch,
    record_local_pull,
)
from remediate.fixer.text import decision_comment, proposal_comment
from remediate.markdown import fenced, inline
from remediate.runs.occurrences import alert_resolved
from remediate.settings import get_settings
from remediate.trackers import TrackerConfigError, make_tracker
from remediate.trackers.models import IssueRef
from remediate.trackers.token import resolve_token

APPROVAL_KEY = "fix-approval"
MAX_APPROVAL_ROUNDS = 10
AWAITING_TAG = "awaiting-approval"


async def _retag(add: list[str], remove: tuple[str, ...] = ()) -> None:
    run_id = flow_run.get_id()
    if not run_id:
        return
    async with get_client() as client:
        run = await client.read_flow_run(UUID(run_id))
        tags = [t for t in run.tags if t not in remove]
        tags += [t for t in add if t not in tags]
        if tags != run.tags:
            await client.update_flow_run(run.id, tags=tags)


def per_flow_run(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """One cached result per task per flow run: a resumed run reuses it."""
    return f"{context.task.name}-{context.task_run.flow_run_id}"


def _git_token(catalog: Catalog, service: Service | None) -> str | None:
    repository = service.repository if service else None
    if repository is None or not sends_token_safely(repository.git_url):
        return None
    try:
        token = resolve_token(catalog.tracker)
    except TrackerConfigError:
        return None
    return token.value.get_secret_value() if token else None


@task(name="propose-fix", cache_key_fn=per_flow_run, persist_result=True)
async def propose_fix_task(
    alert: Alert,
    service: Service | None,
    catalog: Catalog,
    verification: Verification | None,
    diagnosis: Diagnosis | None,
    evidence: str | None = None,
) -> FixProposal:
    try:
        proposal = await propose_fix(
            alert,
            service,
            catalog.fixer,
            verification,
            diagnosis,
            evidence,
            git_token=_git_token(catalog, service),
        )
    except Exception as exc:  # the flow goes on whatever happens here
        proposal = FixProposal(
            status=FixStatus.FAILED, reason=f"fix proposal crashed: {type(exc).__name__}: {exc}"
        )
    get_run_logger().info(
        "fix proposal: %s %s", proposal.status.value, proposal.reason or proposal.summary
    )
    return proposal


@task(name="record-on-issue")
def record_on_issue(
    catalog: Catalog, service: Service | None, issue: IssueRef, key: str, text: str
) -> bool:
    """Comment once per ``key``; a re-run finds the comment and writes nothing."""
    return make_tracker(catalog, service, get_settings()).add_comment(issue.number, key, text)


async def wait_for_approval(
    proposal: FixProposal, catalog: Catalog, issue: IssueRef | None
) -> Approval:
    """Suspend the run until a listed approver decides; returns the decision.

    A decision from a name not on the list (possible only if the server's schema check
    is bypassed) is ignored and the run suspends again under the next key.
    """
    description = approval_description(
        proposal, issue.url if issue else None, artifact_key="fix-diff"
    )
    return await suspend_for_approval(
        approval_input(catalog.approval.approvers), description, catalog, APPROVAL_KEY
    )


async def suspend_for_approval(
    model: type[Approval], description: str, catalog: Catalog, base_key: str
) -> Approval:
    """Suspend under ``base_key`` (then ``base_key-2``, ...) until a listed approver decides."""
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


@task(name="notify-approvers", cache_key_fn=per_flow_run, persist_result=True)
async def notify_approvers(
    alert: Alert,
    proposal: FixProposal,
    catalog: Catalog,
    issue: IssueRef | None,
    run_url: str | None,
) -> list[Delivery]:
    """Once per run: a resumed run finds this result cached and sends nothing again."""
    payload = webhook_payload(
        alert, proposal, flow_run.get_id(), run_url, issue.url if issue else None
    )
    deliveries = await notify(catalog.approval.notify, payload)
    logger = get_run_logger()
    for delivery in deliveries:
        if delivery.ok:
            logger.info("approval request sent to %s", delivery.channel)
        else:
            logger.warning("approval request to %s failed: %s", delivery.channel, delivery.detail)
    return deliveries


@task(name="publish-diff-artifact", cache_key_fn=per_flow_run, persist_result=True)
async def publish_diff_artifact(proposal: FixProposal) -> None:
    """Once per run, so a resumed run adds no second version of the artifact."""
    await acreate_markdown_artifact(
        key="fix-diff",
        markdown=fenced(proposal.diff, "diff"),
        description=f"proposed fix: {proposal.summary[:200]}",
    )


@task(name="open-pull-request", cache_key_fn=per_flow_run, persist_result=True)
def open_pull_request(
    alert: Alert,
    service: Service,
    catalog: Catalog,
    proposal: FixProposal,
    approval: Approval,
    issue: IssueRef | None,
    run_url: str | None,
) -> PullRequestRef:
    repository = service.repository
    if repository is None or proposal.branch is None:
        raise PublishError(f"service {service.name} has no repository to push to")
    title = pull_title(alert, proposal)
    body = pull_body(alert, proposal, approval, issue, run_url)
    message = commit_message(alert, proposal)
    tracker = make_tracker(catalog, service, get_settings())
    if getattr(tracker, "kind", "local") == "github":
        token = resolve_token(catalog.tracker)
        if token is None:
            raise PublishError(f"no GitHub token in {catalog.tracker.token_env}")
        secret = token.value.get_secret_value()
        commit = push_branch(repository, proposal, message, repository.git_url, secret)
        return open_github_pull(repository, token.value, title, body, proposal.branch, commit)
    data_dir = get_settings().data_dir
    remote = str(local_remote(data_dir, repository))
    commit = push_branch(repository, proposal, message, remote, None)
    return record_local_pull(data_dir, repository, title, body, proposal.branch, commit)


async def fix_and_review(
    alert: Alert,
    service: Service | None,
    catalog: Catalog,
    verification: Verification | None,
    diagnosis: Diagnosis | None,
    issue: IssueRef | None,
    run_url: str | None,
    evidence: str | None = None,
) -> tuple[FixProposal, Approval | None, PullRequestRef | None]:
    """The fix stage of the flow: propose, record, wait for approval, publish."""
    logger = get_run_logger()
    proposal = await propose_fix_task(alert, service, catalog, verification, diagnosis, evidence)
    await _retag([f"fix:{proposal.status.value}"])
    if issue is not None:
        record_on_issue(
            catalog, service, issue, f"{alert.occurrence_key}:fix", proposal_comment(proposal)
        )
    if not proposal.awaits_approval or service is None:
        return proposal, None, None
    if not catalog.approval.approvers:
        logger.warning("fix proposed but approval.approvers is empty: nobody can approve it")
        return proposal, None, None
    if deployment.get_id() is None:
        logger.warning("fix proposed but this run has no deployment, so it cannot wait")
        return proposal, None, None
    run_id = flow_run.get_id()
    if run_id and await alert_resolved(run_id):
        logger.warning("alert resolved since the run started; the fix still goes to approval")
        await _retag(["resolved-before:approval"])
    await publish_diff_artifact(proposal)
    await _retag([AWAITING_TAG, *([f"issue:{issue.number}"] if issue else [])])
    if catalog.approval.notify:
        await notify_approvers(alert, proposal, catalog, issue, run_url)
    approval = await wait_for_approval(proposal, catalog, issue)
    verdict = "approved" if approval.approved else "rejected"
    await _retag([f"approval:{verdict}"], remove=(AWAITING_TAG,))
    if issue is not None:
        record_on_issue(
            catalog,
            service,
            issue,
            f"{alert.occurrence_key}:fix-decision",
            decision_comment(approval),
        )
    if not approval.approved:
        logger.info("fix rejected by %s", approval.approver)
        return proposal, approval, None
    try:
        pull = open_pull_request(alert, service, catalog, proposal, approval, issue, run_url)
    except PublishError as exc:
        logger.error("approved fix not published: %s", exc)
        if issue is not None:
            record_on_issue(
                catalog,
                service,
                issue,
                f"{alert.occurrence_key}:fix-pull",
                f"The approved fix could not be published: {inline(str(exc), 1500)}",
            )
        return proposal, approval, None
    logger.info("pull request %s: %s", pull.number, pull.url)
    if issue is not None:
        record_on_issue(
            catalog,
            service,
            issue,
            f"{alert.occurrence_key}:fix-pull",
            f"Pull request opened after approval by {inline(approval.approver, 100)}: {pull.url}",
        )
    return proposal, approval, pull
