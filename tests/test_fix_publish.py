"""Publishing an approved fix: push over real smart HTTP, PR in the GitHub stand-in."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from remediate.alerts import Alert, Severity
from remediate.approval.form import FixApproval
from remediate.approval.record import decided
from remediate.catalog import Repository
from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal, FixStatus, Risk
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
from remediate.incident.text import issue_labels
from remediate.trackers.github import ClientSettings
from remediate.trackers.markers import MarkerSigner
from remediate.trackers.models import IssueAction, IssueRef
from tests.github_standin import GitHubStandIn
from tests.support.git_remote import GitRemote
from tests.support.repos import git

DIFF = "".join(
    [
        "diff --git a/app.py b/app.py\n",
        "index 74cc72f..014e347 100644\n",
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
SHA = diff_sha256(DIFF)
APPROVAL = FixApproval(decision="approve", approver="alice", comment="looks right", diff_sha256=SHA)
DECIDED = decided(APPROVAL, datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC))
MARKERS = MarkerSigner(b"k" * 32)
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
    first = push_branch(remote_repo, proposal, message, remote_repo.git_url, git_remote.token, SHA)
    assert git_remote.branches("acme", "service")["remediate/a-1"] == first
    shown = git_remote.show("acme", "service", "remediate/a-1")
    assert "Fix for alert alert/7 `x` (demo-health)" in shown
    assert "raise the timeout" in shown
    pushes = git_remote.count("git-receive-pack")
    assert pushes == 1

    again = push_branch(remote_repo, proposal, message, remote_repo.git_url, git_remote.token, SHA)
    assert again == first
    assert git_remote.count("git-receive-pack") == pushes


def test_wrong_token_fails_without_showing_it(
    git_remote: GitRemote, remote_repo: Repository
) -> None:
    with pytest.raises(PublishError) as raised:
        push_branch(
            remote_repo,
            proposal_for("remediate/a-2"),
            "m",
            remote_repo.git_url,
            "ghs_wrong_tok",
            SHA,
        )
    assert "ghs_wrong_tok" not in str(raised.value)
    assert "remediate/a-2" not in git_remote.branches("acme", "service")


def test_unexpected_branch_name_is_refused(git_remote: GitRemote, remote_repo: Repository) -> None:
    with pytest.raises(PublishError, match="unexpected branch name"):
        push_branch(
            remote_repo, proposal_for("main"), "m", remote_repo.git_url, git_remote.token, SHA
        )


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
        repository,
        proposal,
        commit_message(ALERT, proposal),
        repository.git_url,
        git_remote.token,
        SHA,
    )
    run_url = "http://prefect/runs/flow-run/1"
    body = pull_body(ALERT, proposal, APPROVAL, DECIDED, ISSUE, run_url, MARKERS)
    token = SecretStr(github_standin.token)
    unpaced = ClientSettings.unpaced()
    pull = open_github_pull(repository, token, "t", body, "remediate/a-3", commit, unpaced)
    assert pull.created
    again = open_github_pull(repository, token, "t", body, "remediate/a-3", commit, unpaced)
    assert (again.number, again.created) == (pull.number, False)

    pulls = github_standin.pulls("acme/service")
    assert len(pulls) == 1
    assert "Refs #1" in (pulls[0].body or "")
    assert "**Fix approved** by alice via `prefect-api` at 2026-03-04T05:06:07Z" in (
        pulls[0].body or ""
    )
    assert github_standin.violations == []


def test_local_tracker_pushes_to_a_bare_repository_and_records_the_pr(
    service_repo: Path, tmp_path: Path
) -> None:
    repository = Repository(owner="acme", name="service", clone_url=str(service_repo))
    data = tmp_path / "data"
    proposal = proposal_for("remediate/a-4")
    remote = str(local_remote(data, repository))
    commit = push_branch(repository, proposal, commit_message(ALERT, proposal), remote, None, SHA)
    assert git(Path(remote), "rev-parse", "remediate/a-4").strip() == commit
    pull = record_local_pull(data, repository, "title", "body", "remediate/a-4", commit)
    assert pull.created and pull.kind == "local"
    record = json.loads((data / "pulls" / f"{pull.number}.json").read_text())
    assert record["branch"] == "remediate/a-4" and record["commit"] == commit
    again = record_local_pull(data, repository, "title", "body", "remediate/a-4", commit)
    assert (again.number, again.created) == (pull.number, False)
    assert git(service_repo, "branch", "--list", "remediate/*") == ""


def test_push_refuses_a_diff_other_than_the_approved_one(
    git_remote: GitRemote, remote_repo: Repository
) -> None:
    approved_elsewhere = diff_sha256(DIFF.replace("5.0", "6.0"))
    with pytest.raises(PublishError, match="not the approved") as raised:
        push_branch(
            remote_repo,
            proposal_for("remediate/a-5"),
            "m",
            remote_repo.git_url,
            git_remote.token,
            approved_elsewhere,
        )
    assert SHA in str(raised.value) and approved_elsewhere in str(raised.value)
    assert "remediate/a-5" not in git_remote.branches("acme", "service")
    assert git_remote.count("git-receive-pack") == 0


HOSTILE = "fixes #1 @org/team, <b>x</b>, \u202e closes https://github.com/acme/service/issues/2"
CLOSING = r"(?i)\b(close[sd]?|fix(e[sd])?|resolve[sd]?)\b\s*:?\s*(#\d|https?://)"


def assert_inert(text: str) -> None:
    assert re.search(CLOSING, text) is None, text
    assert re.search(r"@[A-Za-z0-9]", text) is None, text
    assert re.search(r"#\d", text) is None, text
    assert "<" not in text and ">" not in text and "\u202e" not in text, text


def test_alert_text_in_labels_commit_and_pull_title_acts_on_nothing(
    git_remote: GitRemote, remote_repo: Repository
) -> None:
    hostile = ALERT.model_copy(update={"check_id": HOSTILE, "summary": HOSTILE})
    proposal = proposal_for("remediate/a-6").model_copy(update={"summary": HOSTILE})
    labels = issue_labels(hostile.model_copy(update={"service": HOSTILE}))
    assert all(re.fullmatch(r"[a-z]+(:[A-Za-z0-9._-]+)?", label) for label in labels), labels
    assert len(set(labels)) == 4 and all(len(label) <= 50 for label in labels)
    title = pull_title(hostile, proposal)
    assert_inert(title)
    assert "fixes" in title.replace("\u200b", "") and len(title) <= 200
    message = commit_message(hostile, proposal)
    for line in message.splitlines():
        assert_inert(line)
    push_branch(remote_repo, proposal, message, remote_repo.git_url, git_remote.token, SHA)
    assert_inert(git_remote.show("acme", "service", "remediate/a-6").split("diff --git")[0])
