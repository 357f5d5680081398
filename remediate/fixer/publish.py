"""After approval: commit the proposed diff on its branch, push it, open a pull request.

The diff is applied to a fresh clone of the default branch and its staged diff must hash to
the approved ``diff_sha256``, so what is pushed is exactly what the approver saw. Re-running
finds the branch (same tree) and the open pull request already there and reuses them.
Nothing is ever merged. Alert and model text in the commit message and the pull request's
title is made inert (``markdown.inert_line``): it closes, mentions and links nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from github import Auth, Consts, Github, GithubException
from pydantic import SecretStr

from remediate.alerts import Alert
from remediate.approval.form import FixApproval
from remediate.approval.record import DecisionRecord
from remediate.catalog import Repository
from remediate.fixer.git import (
    GitError,
    branch_name,
    clone,
    diff_sha256,
    git_env,
    run_git,
    staged_diff,
)
from remediate.fixer.models import FixProposal, PullRequestRef
from remediate.markdown import fenced, inert_line, inline
from remediate.trackers.github import ClientSettings
from remediate.trackers.markers import OCCURRENCE, MarkerSigner
from remediate.trackers.models import IssueRef


class PublishError(Exception):
    pass


def commit_message(alert: Alert, proposal: FixProposal) -> str:
    subject = f"Fix for alert {inert_line(alert.id, 70)} ({inert_line(alert.check_id, 60)})"
    body = inert_line(proposal.summary, 1000)
    return f"{subject}\n\n{body}\n" if body else f"{subject}\n"


def pull_title(alert: Alert, proposal: FixProposal) -> str:
    about = inert_line(f"{alert.check_id}: {proposal.summary or 'proposed fix'}", 186)
    return f"[remediate] {about}"


def pull_body(
    alert: Alert,
    proposal: FixProposal,
    approval: FixApproval,
    decision: DecisionRecord,
    issue: IssueRef | None,
    run_url: str | None,
    markers: MarkerSigner,
) -> str:
    issue_line = f"Refs #{issue.number}" if issue and issue.tracker == "github" else ""
    if issue and issue.tracker == "local":
        issue_line = f"Issue: {issue.url}"
    lines = [
        markers.marker(OCCURRENCE, f"{alert.occurrence_key}:pull"),
        f"Proposed fix for alert `{inline(alert.id, 200)}` ({inline(alert.check_id, 200)}).",
        "",
        issue_line,
        "",
        f"**Summary:** {inline(proposal.summary or '-', 1000)}",
        f"**Risk (model's assessment):** {proposal.risk.value}",
        f"**Rationale:** {inline(proposal.rationale or '-', 2000)}",
        f"**How it was checked:** {inline(proposal.checked or '-', 1000)}",
        "",
        decision.markdown("Fix"),
        "",
        f"**Approved diff sha256:** `{approval.diff_sha256}`",
        f"**Run:** {run_url or 'not available'}",
        "",
        "Opened by remediate after approval. It is never merged automatically.",
    ]
    return "\n".join(lines)


def push_branch(
    repository: Repository,
    proposal: FixProposal,
    message: str,
    remote_url: str,
    token: str | None,
    approved_sha256: str,
) -> str:
    """Push the proposal's branch to ``remote_url``; returns the branch head commit.

    Refuses unless the diff staged in the fresh clone hashes to ``approved_sha256``."""
    branch = proposal.branch or ""
    if not branch.startswith("remediate/") or branch != branch_name(branch[len("remediate/") :]):
        raise PublishError(f"refusing to push unexpected branch name {branch!r}")
    with tempfile.TemporaryDirectory(prefix="remediate-publish-") as scratch:
        root = Path(scratch)
        checkout, home = root / "repo", root / "home"
        home.mkdir()
        env = git_env(home, remote_url, token)
        try:
            mirror = remote_url != repository.git_url
            clone(repository.git_url, repository.default_branch, checkout, env, shallow=not mirror)
            run_git(["checkout", "--quiet", "-b", branch], checkout, env)
            patch = root / "fix.patch"
            patch.write_text(proposal.diff, encoding="utf-8")
            run_git(["apply", "--index", "--whitespace=nowarn", str(patch)], checkout, env)
            staged = diff_sha256(staged_diff(checkout, env))
            if staged != approved_sha256:
                raise PublishError(
                    f"the branch's diff has sha256 {staged}, not the approved {approved_sha256}:"
                    " nothing was pushed; the change needs a new approval"
                )
            message_file = root / "message.txt"
            message_file.write_text(message, encoding="utf-8")
            run_git(["commit", "--quiet", "--no-verify", "-F", str(message_file)], checkout, env)
            ours = run_git(["rev-parse", "HEAD^{tree}"], checkout, env).strip()
            existing = run_git(
                ["ls-remote", "--heads", remote_url, f"refs/heads/{branch}"], checkout, env
            ).split()
            if existing:
                run_git(
                    ["fetch", "--quiet", "--depth", "1", remote_url, existing[0]], checkout, env
                )
                theirs = run_git(["rev-parse", "FETCH_HEAD^{tree}"], checkout, env).strip()
                if theirs != ours:
                    raise PublishError(
                        f"branch {branch} already exists on the remote with other content"
                    )
                return existing[0]
            run_git(["push", "--quiet", remote_url, f"HEAD:refs/heads/{branch}"], checkout, env)
            return run_git(["rev-parse", "HEAD"], checkout, env).strip()
        except GitError as exc:
            raise PublishError(str(exc)) from None


def open_github_pull(
    repository: Repository,
    token: SecretStr,
    title: str,
    body: str,
    branch: str,
    commit: str,
    client: ClientSettings | None = None,
) -> PullRequestRef:
    settings = client or ClientSettings()
    base_url = (
        str(repository.api_base_url).rstrip("/")
        if repository.api_base_url
        else Consts.DEFAULT_BASE_URL
    )
    github = Github(
        base_url=base_url,
        auth=Auth.Token(token.get_secret_value()),
        retry=settings.retry,
        timeout=settings.timeout,
        seconds_between_requests=settings.seconds_between_requests,
        seconds_between_writes=settings.seconds_between_writes,
    )
    try:
        repo = github.get_repo(repository.full_name)
        for pull in repo.get_pulls(state="open", head=f"{repository.owner}:{branch}"):
            return PullRequestRef(
                kind="github",
                number=pull.number,
                url=pull.html_url,
                branch=branch,
                commit=commit,
                created=False,
            )
        pull = repo.create_pull(base=repository.default_branch, head=branch, title=title, body=body)
    except GithubException as exc:
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        raise PublishError(
            f"GitHub refused the pull request for {repository.full_name}: {exc.status}"
            f" {str(message or '')[:300]}"
        ) from None
    return PullRequestRef(
        kind="github",
        number=pull.number,
        url=pull.html_url,
        branch=branch,
        commit=commit,
        created=True,
    )


def local_remote(data_dir: Path, repository: Repository) -> Path:
    """The bare repository under the data directory that receives local branches."""
    bare = (data_dir / "git" / f"{repository.owner}__{repository.name}.git").resolve()
    if not (bare / "HEAD").exists():
        bare.parent.mkdir(parents=True, exist_ok=True)
        run_git(["init", "--quiet", "--bare", str(bare)], None, git_env(bare.parent))
    return bare


def record_local_pull(
    data_dir: Path, repository: Repository, title: str, body: str, branch: str, commit: str
) -> PullRequestRef:
    pulls = data_dir / "pulls"
    pulls.mkdir(parents=True, exist_ok=True)
    for existing in sorted(pulls.glob("*.json")):
        record = json.loads(existing.read_text(encoding="utf-8"))
        if record["repository"] == repository.full_name and record["branch"] == branch:
            return PullRequestRef(
                kind="local",
                number=int(record["number"]),
                url=existing.with_suffix(".md").resolve().as_uri(),
                branch=branch,
                commit=str(record["commit"]),
                created=False,
            )
    number = 1 + max((int(p.stem) for p in pulls.glob("*.json")), default=0)
    record = {
        "number": number,
        "repository": repository.full_name,
        "branch": branch,
        "base": repository.default_branch,
        "commit": commit,
        "title": title,
        "body": body,
        "remote": str(local_remote(data_dir, repository)),
        "created_at": datetime.now(UTC).isoformat(),
        "state": "open",
    }
    target = pulls / f"{number}.json"
    partial = target.with_suffix(".tmp")
    partial.write_text(json.dumps(record, indent=2), encoding="utf-8")
    os.replace(partial, target)
    rendered = f"# PR {number}: {title}\n\nBranch `{branch}` -> `{repository.default_branch}`\n\n"
    rendered += body + "\n\n" + fenced(f"git fetch {record['remote']} {branch}", "sh") + "\n"
    target.with_suffix(".md").write_text(rendered, encoding="utf-8")
    return PullRequestRef(
        kind="local",
        number=number,
        url=target.with_suffix(".md").resolve().as_uri(),
        branch=branch,
        commit=commit,
        created=True,
    )
