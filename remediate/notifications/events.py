"""The notice for each event a run tells people about."""

from __future__ import annotations

from remediate.actions.models import ActionOutcome, ActionProposal, ActionStatus
from remediate.alerts import Alert
from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal, PullRequestRef
from remediate.notifications.config import Event
from remediate.notifications.notice import DecisionRequest, Notice
from remediate.trackers.models import IssueRef


def _alert_facts(alert: Alert) -> list[tuple[str, str]]:
    return [
        ("Check", alert.check_id),
        ("Service", alert.service or "unknown"),
        ("Severity", alert.severity.value),
    ]


def _links(run_url: str | None, issue: IssueRef | None) -> list[tuple[str, str]]:
    links = []
    if run_url:
        links.append(("run", run_url))
    if issue is not None and issue.url.startswith(("https://", "http://")):
        links.append((f"issue #{issue.number}", issue.url))
    return links


def issue_opened(alert: Alert, issue: IssueRef, run_url: str | None) -> Notice:
    return Notice(
        event=Event.ISSUE_OPENED,
        key="issue-opened",
        headline=f"Incident issue #{issue.number} opened",
        summary=alert.summary,
        facts=_alert_facts(alert),
        links=_links(run_url, issue),
    )


def approval_requested(
    alert: Alert,
    proposal: FixProposal,
    run_id: str | None,
    run_url: str | None,
    issue: IssueRef | None,
    key: str,
) -> Notice:
    """What waits and where to decide: the run page (⋮ > Resume), ``remediate approve``,
    and on Slack the buttons, which resume the run for this diff only."""
    decision = None
    if run_id:
        decision = DecisionRequest(run_id=run_id, key=key, diff_sha256=diff_sha256(proposal.diff))
    files = ", ".join(proposal.files_changed) or "none"
    where = "Decide on the run page (menu ⋮ > Resume)"
    if run_id:
        where += f" or: remediate approve {run_id} --diff-sha256 {diff_sha256(proposal.diff)}"
    if issue is not None and issue.tracker == "github":
        where += f", or comment /approve or /reject on issue #{issue.number}"
    return Notice(
        event=Event.APPROVAL_REQUESTED,
        key=f"approval-requested-{key}",
        headline="Fix waiting for approval",
        summary=proposal.summary or "no summary given",
        facts=[
            *_alert_facts(alert),
            ("Risk (model's)", proposal.risk.value),
            ("Files", files),
            ("Diff sha256", diff_sha256(proposal.diff)),
            ("Where to decide", where),
        ],
        links=_links(run_url, issue),
        decision=decision,
    )


def action_approval_requested(
    what: str,
    proposal: ActionProposal,
    run_id: str | None,
    run_url: str | None,
    issue: IssueRef | None,
    key: str,
) -> Notice:
    """A runbook action (a rollback, a capacity action) waits: what it does, where, and
    where to decide; on Slack the buttons resume the run's decision under ``key``."""
    where = "Decide on the run page (menu ⋮ > Resume)"
    if run_id:
        where += f" or: remediate approve {run_id}"
    if issue is not None and issue.tracker == "github":
        where += f", or comment /approve or /reject on issue #{issue.number}"
    parameters = ", ".join(f"{k}={v}" for k, v in proposal.parameters.items()) or "none"
    return Notice(
        event=Event.APPROVAL_REQUESTED,
        key=f"approval-requested-{key}",
        headline=f"{what} waiting for approval",
        summary=proposal.description or "no description given",
        facts=[
            ("Service", proposal.service),
            ("Action", proposal.action),
            ("Parameters", parameters),
            ("Runs", proposal.command),
            ("Hosts", ", ".join(proposal.hosts) or "none"),
            ("Risk", proposal.risk),
            ("Suggested by", proposal.suggested_by or "the catalog"),
            ("Where to decide", where),
        ],
        links=_links(run_url, issue),
        decision=DecisionRequest(run_id=run_id, key=key) if run_id else None,
    )


def decided(
    what: str,
    key: str,
    approved: bool,
    approver: str,
    channel: str,
    comment: str,
    run_url: str | None,
    issue: IssueRef | None,
) -> Notice:
    verdict = "approved" if approved else "rejected"
    facts = [("Approver", approver), ("Channel", channel)]
    if comment:
        facts.append(("Comment", comment))
    return Notice(
        event=Event.DECIDED,
        key=f"decided-{key}",
        headline=f"{what} {verdict}",
        facts=facts,
        links=_links(run_url, issue),
    )


def pull_request_opened(
    alert: Alert, pull: PullRequestRef, run_url: str | None, issue: IssueRef | None
) -> Notice:
    links = _links(run_url, issue)
    if pull.url.startswith(("https://", "http://")):
        links.insert(0, (f"pull request #{pull.number}", pull.url))
    return Notice(
        event=Event.PULL_REQUEST_OPENED,
        key="pull-request-opened",
        headline=f"Pull request #{pull.number} opened for the approved fix",
        facts=[*_alert_facts(alert), ("Branch", pull.branch)],
        links=links,
    )


def action_finished(
    outcome: ActionOutcome, key: str, run_url: str | None, issue: IssueRef | None
) -> Notice | None:
    """``action-run`` for an action that ran, ``action-undone`` when its undo ran too."""
    proposal = outcome.proposal
    undone = outcome.status in (ActionStatus.UNDONE, ActionStatus.UNDO_FAILED)
    if outcome.status in (ActionStatus.REJECTED, ActionStatus.NOT_RUN):
        return None
    headline = {
        ActionStatus.SUCCEEDED: f"Runbook action {proposal.action} ran and the service is healthy",
        ActionStatus.FAILED: f"Runbook action {proposal.action} ran; the service is not healthy",
        ActionStatus.UNDONE: f"Runbook action {proposal.action} failed and was undone",
        ActionStatus.UNDO_FAILED: f"Runbook action {proposal.action} failed and its undo failed",
    }[outcome.status]
    facts = [("Service", proposal.service), ("Action", proposal.action)]
    facts.append(("Status", outcome.status.value))
    if outcome.reason:
        facts.append(("Reason", outcome.reason))
    return Notice(
        event=Event.ACTION_UNDONE if undone else Event.ACTION_RUN,
        key=f"action-{key}",
        headline=headline,
        facts=facts,
        links=_links(run_url, issue),
    )


def dry_run(alert: Alert, would: str, run_url: str | None) -> Notice:
    """The one notice of a shadow run: it ran, and what it would have done."""
    return Notice(
        event=Event.DRY_RUN,
        key="dry-run",
        headline="Dry run: nothing was written, pushed, run or sent",
        summary=alert.summary,
        facts=[*_alert_facts(alert), ("Would", would)],
        links=_links(run_url, None),
    )
