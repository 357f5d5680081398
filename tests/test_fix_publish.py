"""Publishing an approved fix: push over real smart HTTP, PR in the GitHub stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from remediate.alerts import Alert, Severity
from remediate.approval.form import Approval
from remediate.catalog import Repository
from remediate.fixer.models import FixProposal, FixStatus, Risk
from remediate.fixer.publish import (
    PublishError,
    commit_message,
    local_remote,
    open_github_pull,
    pull_body,
    push_branch,
    record_local_pull,
)
from remediate.trackers.github import ClientSettings
from remediate.trackers.models import IssueAction, IssueRef
from tests.github_standin import GitHubStandIn
from tests.support.git_remote import GitRemote
from tests.support.repos import git

DIFF = "".join(
    [
        "diff --git a/app.py b/app.py\n",
        "--- a/app.py\n",
        "+++ b/app.py\n",
        "@@ -1,4 +1,4 @@\n",
        "-TIMEOUT_S = 0.001\n",
        "+TIMEOUT_S = 5.0\n",
        " \n",
        " \n",
        " def handler():\n",
    ]
)

ALERT = Alert(
    id="alert/7 `x`",
    source="test",
    check_id="demo-health",
    service="demo",
    severity=Severity.CRITICAL,
    summary="down",
    fired_at=datetime(2026, 1, 1, tzinfo=UTC),
)
PROPOSAL = FixProposal(
    status=FixStatus.PROPOSED,
    summary="raise the timeout",
    risk=Risk.LOW,
    branch="remediate/alert-7-x-3d50d3e3",
    files_changed=["app.py"],
    diff=DIFF,
)
APPROVAL = Approval(approved=True, approver="alice", comment="looks right")
ISSUE = IssueRef(tracker="github", number=1, url="http://x/issues/1", action=IssueAction.OPENED)


def proposal_for(branch: str) -> FixProposal:
    return PROPOSAL.model_copy(update={"branch": branch})


@pytest.fixture
def remote_repo(git_remote: GitRemote) -> Repository:
    git_remote.add_repo("acme", "service")
    return Repository(owner="acme", name="service", clone_url=git_remote.url("acme", "service"))


def test_branch_name_matches_the_alert() -> None:
    from remediate.fixer.git import branch_name

    assert branch_name("a-1") == "remediate/a-1"
    assert PROPOSAL.branch == branch_name(ALERT.id)
    assert branch_name("../../x.lock").startswith("remediate/x-")
    assert branch_name("-").startswith("remediate/")


def test_push_over_http_with_token_is_idempotent(
    git_remote: GitRemote, remote_repo: Repository
) -> None:
    proposal = proposal_for("remediate/a-1")
    message = commit_message(ALERT, proposal)
    first = push_branch(remote_repo, proposal, message, remote_repo.git_url, git_remote.token)
    assert git_remote.branches("acme", "service")["remediate/a-1"] == first
    shown = git_remote.show("acme", "service", "remediate/a-1")
    assert "Fix for alert alert/7 `x` (demo-health)" in shown
    assert "raise the timeout" in shown
    pushes = git_remote.count("git-receive-pack")
    assert pushes == 1

    again = push_branch(remote_repo, proposal, message, remote_repo.git_url, git_remote.token)
    assert again == first
    assert git_remote.count("git-receive-pack") == pushes


def test_wrong_token_fails_without_showing_it(
    git_remote: GitRemote, remote_repo: Repository
) -> None:
    with pytest.raises(PublishError) as raised:
        push_branch(
            remote_repo, proposal_for("remediate/a-2"), "m", remote_repo.git_url, "ghs_wrong_tok"
        )
    assert "ghs_wrong_tok" not in str(raised.value)
    assert "remediate/a-2" not in git_remote.branches("acme", "service")


def test_unexpected_branch_name_is_refused(git_remote: GitRemote, remote_repo: Repository) -> None:
    with pytest.raises(PublishError, match="unexpected branch name"):
        push_branch(remote_repo, proposal_for("main"), "m", remote_repo.git_url, git_remote.token)


def test_pull_request_in_the_github_standin(
    git_remote: GitRemote, github_standin: GitHubStandIn
) -> None:
    git_remote.add_repo("acme", "service")
    heads = git_remote.branches("acme", "service")
    github_standin.add_repo("acme/service", sha=heads["main"])

    def sync(path: str, root: Path) -> None:
        for name, sha in git_remote.branches("acme", "service").items():
            github_standin.add_branch("acme/service", name, sha)

    git_remote.on_push = sync
    repository = Repository(
        owner="acme",
        name="service",
        clone_url=git_remote.url("acme", "service"),
        api_base_url=github_standin.base_url,
    )
    proposal = proposal_for("remediate/a-3")
    commit = push_branch(
        repository, proposal, commit_message(ALERT, proposal), repository.git_url, git_remote.token
    )
    body = pull_body(ALERT, proposal, APPROVAL, ISSUE, "http://prefect/runs/flow-run/1")
    token = SecretStr(github_standin.token)
    unpaced = ClientSettings.unpaced()
    pull = open_github_pull(repository, token, "t", body, "remediate/a-3", commit, unpaced)
    assert pull.created
    again = open_github_pull(repository, token, "t", body, "remediate/a-3", commit, unpaced)
    assert (again.number, again.created) == (pull.number, False)

    pulls = github_standin.pulls("acme/service")
    assert len(pulls) == 1
    assert "Refs #1" in (pulls[0].body or "")
    assert "alice" in (pulls[0].body or "")
    assert github_standin.violations == []


def test_local_tracker_pushes_to_a_bare_repository_and_records_the_pr(
    service_repo: Path, tmp_path: Path
) -> None:
    repository = Repository(owner="acme", name="service", clone_url=str(service_repo))
    data = tmp_path / "data"
    proposal = proposal_for("remediate/a-4")
    remote = str(local_remote(data, repository))
    commit = push_branch(repository, proposal, commit_message(ALERT, proposal), remote, None)
    assert git(Path(remote), "rev-parse", "remediate/a-4").strip() == commit
    pull = record_local_pull(data, repository, "title", "body", "remediate/a-4", commit)
    assert pull.created and pull.kind == "local"
    record = json.loads((data / "pulls" / f"{pull.number}.json").read_text())
    assert record["branch"] == "remediate/a-4" and record["commit"] == commit
    again = record_local_pull(data, repository, "title", "body", "remediate/a-4", commit)
    assert (again.number, again.created) == (pull.number, False)
    assert git(service_repo, "branch", "--list", "remediate/*") == ""
