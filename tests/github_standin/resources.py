"""GitHub's JSON shapes for the stand-in's data, with URLs under the stand-in's base URL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from tests.github_standin.state import Comment, Deployment, DeploymentStatus, Issue, Label, Repo


def stamp(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _node(kind: str, key: object) -> str:
    return kind + "_" + hashlib.sha1(f"{kind}:{key}".encode()).hexdigest()[:16]


def _user_id(login: str) -> int:
    return int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)


@dataclass(frozen=True)
class Urls:
    api: str
    html: str

    def repo(self, repo: Repo) -> str:
        return f"{self.api}/repos/{repo.owner}/{repo.name}"

    def repo_html(self, repo: Repo) -> str:
        return f"{self.html}/{repo.owner}/{repo.name}"


def user(urls: Urls, login: str) -> dict[str, Any]:
    base = f"{urls.api}/users/{login}"
    return {
        "login": login,
        "id": _user_id(login),
        "node_id": _node("U", login),
        "avatar_url": f"{urls.html}/avatars/{login}",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{urls.html}/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def authenticated_user(urls: Urls, login: str, created: datetime) -> dict[str, Any]:
    """``GET /user``: the token's owner, as GitHub describes it to that owner."""
    counts = ("followers", "following", "public_gists", "public_repos", "collaborators")
    private = ("disk_usage", "owned_private_repos", "private_gists", "total_private_repos")
    return {
        **user(urls, login),
        "user_view_type": "private",
        **dict.fromkeys(("name", "company", "blog", "location", "email", "hireable", "bio")),
        **dict.fromkeys(counts + private, 0),
        "created_at": stamp(created),
        "updated_at": stamp(created),
        "two_factor_authentication": True,
    }


def repository(urls: Urls, repo: Repo, *, full: bool = False) -> dict[str, Any]:
    api = urls.repo(repo)
    html = urls.repo_html(repo)
    open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
    data: dict[str, Any] = {
        "id": repo.id,
        "node_id": _node("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": user(urls, repo.owner),
        "private": False,
        "html_url": html,
        "description": None,
        "fork": False,
        "url": api,
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{api}/assignees{{/user}}",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "comments_url": f"{api}/comments{{/number}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "contributors_url": f"{api}/contributors",
        "deployments_url": f"{api}/deployments",
        "downloads_url": f"{api}/downloads",
        "events_url": f"{api}/events",
        "forks_url": f"{api}/forks",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_url": f"git://{html.split('://', 1)[1]}.git",
        "hooks_url": f"{api}/hooks",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "keys_url": f"{api}/keys{{/key_id}}",
        "labels_url": f"{api}/labels{{/name}}",
        "languages_url": f"{api}/languages",
        "merges_url": f"{api}/merges",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "releases_url": f"{api}/releases{{/id}}",
        "ssh_url": f"git@127.0.0.1:{repo.full_name}.git",
        "stargazers_url": f"{api}/stargazers",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "tags_url": f"{api}/tags",
        "teams_url": f"{api}/teams",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "clone_url": f"{html}.git",
        "mirror_url": None,
        "svn_url": html,
        "homepage": None,
        "language": None,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "size": 0,
        "default_branch": repo.default_branch,
        "open_issues": open_issues,
        "open_issues_count": open_issues,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "public",
        "license": None,
        "pushed_at": stamp(repo.created_at),
        "created_at": stamp(repo.created_at),
        "updated_at": stamp(repo.created_at),
        "permissions": {
            "admin": True,
            "maintain": True,
            "push": True,
            "triage": True,
            "pull": True,
        },
    }
    if full:
        data |= {"network_count": 0, "subscribers_count": 0}
    return data


def label(urls: Urls, repo: Repo, item: Label) -> dict[str, Any]:
    return {
        "id": item.id,
        "node_id": _node("LA", item.id),
        "url": f"{urls.repo(repo)}/labels/{quote(item.name, safe='')}",
        "name": item.name,
        "description": item.description,
        "color": item.color,
        "default": False,
    }


def _labels(urls: Urls, repo: Repo, names: list[str]) -> list[dict[str, Any]]:
    return [label(urls, repo, found) for name in names if (found := repo.label(name))]


def issue(urls: Urls, repo: Repo, item: Issue) -> dict[str, Any]:
    api = f"{urls.repo(repo)}/issues/{item.number}"
    kind = "pull" if item.pull is not None else "issues"
    html = f"{urls.repo_html(repo)}/{kind}/{item.number}"
    data: dict[str, Any] = {
        "id": item.id,
        "node_id": _node("I", item.id),
        "url": api,
        "repository_url": urls.repo(repo),
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "timeline_url": f"{api}/timeline",
        "html_url": html,
        "number": item.number,
        "title": item.title,
        "user": user(urls, item.author),
        "labels": _labels(urls, repo, item.labels),
        "state": item.state,
        "state_reason": item.state_reason,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": len(item.comments),
        "created_at": stamp(item.created_at),
        "updated_at": stamp(item.updated_at),
        "closed_at": stamp(item.closed_at),
        "closed_by": user(urls, item.closed_by) if item.closed_by else None,
        "author_association": "OWNER",
        "active_lock_reason": None,
        "body": item.body,
    }
    if item.pull is not None:
        pull_api = f"{urls.repo(repo)}/pulls/{item.number}"
        data["pull_request"] = {
            "url": pull_api,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": None,
        }
    return data


def comment(urls: Urls, repo: Repo, item: Issue, note: Comment) -> dict[str, Any]:
    kind = "pull" if item.pull is not None else "issues"
    return {
        "id": note.id,
        "node_id": _node("IC", note.id),
        "url": f"{urls.repo(repo)}/issues/comments/{note.id}",
        "html_url": f"{urls.repo_html(repo)}/{kind}/{item.number}#issuecomment-{note.id}",
        "issue_url": f"{urls.repo(repo)}/issues/{item.number}",
        "body": note.body,
        "user": user(urls, note.author),
        "created_at": stamp(note.created_at),
        "updated_at": stamp(note.updated_at),
        "author_association": "OWNER",
    }


def _pull_end(urls: Urls, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(urls, repo.owner),
        "repo": repository(urls, repo),
    }


def pull(urls: Urls, repo: Repo, item: Issue, *, simple: bool = False) -> dict[str, Any]:
    if item.pull is None:
        raise ValueError(f"issue #{item.number} is not a pull request")
    api = f"{urls.repo(repo)}/pulls/{item.number}"
    issue_api = f"{urls.repo(repo)}/issues/{item.number}"
    html = f"{urls.repo_html(repo)}/pull/{item.number}"
    data: dict[str, Any] = {
        "id": item.id,
        "node_id": _node("PR", item.id),
        "url": api,
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_api,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{urls.repo(repo)}/pulls/comments{{/number}}",
        "comments_url": f"{issue_api}/comments",
        "statuses_url": f"{urls.repo(repo)}/statuses/{item.pull.head_sha}",
        "number": item.number,
        "state": item.state,
        "locked": False,
        "title": item.title,
        "user": user(urls, item.author),
        "body": item.body,
        "labels": [
            {**entry, "description": entry["description"] or ""}
            for entry in _labels(urls, repo, item.labels)
        ],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": stamp(item.created_at),
        "updated_at": stamp(item.updated_at),
        "closed_at": stamp(item.closed_at),
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _pull_end(urls, repo, item.pull.head_ref, item.pull.head_sha),
        "base": _pull_end(urls, repo, item.pull.base_ref, item.pull.base_sha),
        "_links": {
            name: {"href": href}
            for name, href in {
                "self": api,
                "html": html,
                "issue": issue_api,
                "comments": f"{issue_api}/comments",
                "review_comments": f"{api}/comments",
                "review_comment": f"{urls.repo(repo)}/pulls/comments{{/number}}",
                "commits": f"{api}/commits",
                "statuses": f"{urls.repo(repo)}/statuses/{item.pull.head_sha}",
            }.items()
        },
        "author_association": "OWNER",
        "auto_merge": None,
        "draft": item.pull.draft,
    }
    if not simple:
        data |= {
            "merged": False,
            "mergeable": None,
            "rebaseable": None,
            "mergeable_state": "unknown",
            "merged_by": None,
            "comments": len(item.comments),
            "review_comments": 0,
            "maintainer_can_modify": item.pull.maintainer_can_modify,
            "commits": 1,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        }
    return data


def branch(urls: Urls, repo: Repo, name: str, sha: str) -> dict[str, Any]:
    api = urls.repo(repo)
    commit_api = f"{api}/commits/{sha}"
    return {
        "name": name,
        "commit": {
            "sha": sha,
            "node_id": _node("C", sha),
            "url": commit_api,
            "html_url": f"{urls.repo_html(repo)}/commit/{sha}",
            "comments_url": f"{commit_api}/comments",
            "commit": {
                "url": f"{api}/git/commits/{sha}",
                "author": None,
                "committer": None,
                "message": "",
                "comment_count": 0,
                "tree": {"sha": sha, "url": f"{api}/git/trees/{sha}"},
            },
            "author": {},
            "committer": {},
            "parents": [],
        },
        "_links": {
            "self": f"{api}/branches/{quote(name, safe='')}",
            "html": f"{urls.repo_html(repo)}/tree/{name}",
        },
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {
                "enforcement_level": "off",
                "contexts": [],
                "checks": [],
            },
        },
        "protection_url": f"{api}/branches/{quote(name, safe='')}/protection",
    }


def error(status: int, message: str) -> dict[str, Any]:
    return {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }


def validation_failed(resource: str, field: str, code: str, message: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "field": field, "code": code, "message": message}],
        "documentation_url": "https://docs.github.com/rest",
        "status": "422",
    }


def deployment(urls: Urls, repo: Repo, item: Deployment) -> dict[str, Any]:
    api = f"{urls.repo(repo)}/deployments/{item.id}"
    return {
        "url": api,
        "id": item.id,
        "node_id": _node("DE", item.id),
        "sha": item.sha,
        "ref": item.ref,
        "task": item.task,
        "payload": {},
        "original_environment": item.environment,
        "environment": item.environment,
        "description": item.description,
        "creator": user(urls, item.creator),
        "created_at": stamp(item.created_at),
        "updated_at": stamp(max([item.created_at, *(s.created_at for s in item.statuses)])),
        "statuses_url": f"{api}/statuses",
        "repository_url": urls.repo(repo),
        "transient_environment": False,
        "production_environment": item.environment == "production",
    }


def deployment_status(
    urls: Urls, repo: Repo, item: Deployment, status: DeploymentStatus
) -> dict[str, Any]:
    api = f"{urls.repo(repo)}/deployments/{item.id}"
    log = f"{urls.repo_html(repo)}/deployments/{item.id}/log"
    return {
        "url": f"{api}/statuses/{status.id}",
        "id": status.id,
        "node_id": _node("DES", status.id),
        "state": status.state,
        "creator": user(urls, item.creator),
        "description": status.description,
        "environment": item.environment,
        "target_url": log,
        "log_url": log,
        "created_at": stamp(status.created_at),
        "updated_at": stamp(status.created_at),
        "deployment_url": api,
        "repository_url": urls.repo(repo),
    }
