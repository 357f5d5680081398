"""Publish an approved fix where the catalog's tracker says: GitHub, or the local stack."""

from __future__ import annotations

from remediate.alerts import Alert
from remediate.approval.form import FixApproval
from remediate.approval.record import DecisionRecord
from remediate.catalog import Catalog, Service
from remediate.fixer.git import sends_token_safely
from remediate.fixer.models import FixProposal, PullRequestRef
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
from remediate.settings import Settings
from remediate.trackers import TrackerConfigError, make_tracker
from remediate.trackers.models import IssueRef
from remediate.trackers.token import resolve_token


def clone_token(catalog: Catalog, service: Service | None) -> str | None:
    """The tracker token, for cloning the service's repository, when it can travel safely."""
    repository = service.repository if service else None
    if repository is None or not sends_token_safely(repository.git_url):
        return None
    try:
        token = resolve_token(catalog.tracker)
    except TrackerConfigError:
        return None
    return token.value.get_secret_value() if token else None


def publish_fix(
    alert: Alert,
    service: Service,
    catalog: Catalog,
    proposal: FixProposal,
    approval: FixApproval,
    decision: DecisionRecord,
    issue: IssueRef | None,
    run_url: str | None,
    settings: Settings,
) -> PullRequestRef:
    repository = service.repository
    if repository is None or proposal.branch is None:
        raise PublishError(f"service {service.name} has no repository to push to")
    title = pull_title(alert, proposal)
    message = commit_message(alert, proposal)
    tracker = make_tracker(catalog, service, settings)
    body = pull_body(alert, proposal, approval, decision, issue, run_url, tracker.markers)
    approved = approval.diff_sha256
    if getattr(tracker, "kind", "local") == "github":
        token = resolve_token(catalog.tracker)
        if token is None:
            raise PublishError(f"no GitHub token in {catalog.tracker.token_env}")
        secret = token.value.get_secret_value()
        commit = push_branch(repository, proposal, message, repository.git_url, secret, approved)
        return open_github_pull(repository, token.value, title, body, proposal.branch, commit)
    remote = str(local_remote(settings.data_dir, repository))
    commit = push_branch(repository, proposal, message, remote, None, approved)
    return record_local_pull(settings.data_dir, repository, title, body, proposal.branch, commit)
