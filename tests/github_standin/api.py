"""The REST endpoints the stand-in serves, over the in-memory ``State``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from tests.github_standin import resources
from tests.github_standin.resources import Urls
from tests.github_standin.state import Comment, Issue, Pull, Repo, State, now

BODY_LIMIT = 65_536
NOT_FOUND = "Not Found"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    params: dict[str, str]
    query: list[tuple[str, str]]
    body: Any
    url: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.query if k == name), default)


class Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _not_found(message: str = NOT_FOUND) -> Refused:
    return Refused(Reply(404, resources.error(404, message)))


def _invalid(resource: str, name: str, code: str, message: str) -> Refused:
    return Refused(Reply(422, resources.validation_failed(resource, name, code, message)))


def _text(body: Any, key: str) -> str | None:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _check_length(resource: str, key: str, value: str | None) -> None:
    if value is not None and len(value) > BODY_LIMIT:
        raise _invalid(
            resource, key, "custom", f"{key} is too long (maximum is {BODY_LIMIT} characters)"
        )


def _number(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.isdigit() else default


def _label_names(items: Any) -> list[str]:
    if not isinstance(items, list):
        return []
    names = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            names.append(item["name"])
    return names


SINCE = datetime(2020, 1, 1, tzinfo=UTC)

Handler = Callable[["GitHubApi", Repo, Call], Reply]


class GitHubApi:
    def __init__(self, state: State, urls: Urls) -> None:
        self.state = state
        self.urls = urls
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (method, re.compile(f"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+){tail}$"), handler)
            for method, tail, handler in _ROUTES
        ]

    def handle(self, method: str, path: str, call: Call) -> Reply:
        if (method, path) == ("GET", "/user"):
            with self.state.lock:
                owner = self.state.token_owner
            return Reply(200, resources.authenticated_user(self.urls, owner, SINCE))
        for route_method, pattern, handler in self.routes:
            match = pattern.match(path)
            if match is None or route_method != method:
                continue
            call.params = {k: unquote(v) for k, v in match.groupdict().items()}
            with self.state.lock:
                repo = self.state.repo(call.params["owner"], call.params["repo"])
                try:
                    if repo is None:
                        raise _not_found()
                    return handler(self, repo, call)
                except Refused as refused:
                    return refused.reply
        return Reply(404, resources.error(404, NOT_FOUND))

    def paginate(self, items: list[Any], call: Call) -> Reply:
        per_page = max(1, min(100, _number(call.arg("per_page"), 30)))
        page = max(1, _number(call.arg("page"), 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        other = [(k, v) for k, v in call.query if k != "page"]
        if page < last:
            links.append(f'<{call.url}?{urlencode([*other, ("page", page + 1)])}>; rel="next"')
            links.append(f'<{call.url}?{urlencode([*other, ("page", last)])}>; rel="last"')
        if page > 1:
            links.append(f'<{call.url}?{urlencode([*other, ("page", page - 1)])}>; rel="prev"')
            links.append(f'<{call.url}?{urlencode([*other, ("page", 1)])}>; rel="first"')
        return Reply(200, chunk, {"link": ", ".join(links)} if links else {})

    def issue_of(self, repo: Repo, call: Call) -> Issue:
        found = repo.issues.get(int(call.params["number"]))
        if found is None:
            raise _not_found()
        return found


def get_repo(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    return Reply(200, resources.repository(api.urls, repo, full=True))


def list_issues(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    state = call.arg("state", "open")
    wanted = {n.strip().lower() for n in (call.arg("labels") or "").split(",") if n.strip()}
    found = [
        i
        for i in repo.issues.values()
        if (state == "all" or i.state == state) and wanted <= {n.lower() for n in i.labels}
    ]
    sort = call.arg("sort", "created")
    keys: dict[str | None, Callable[[Issue], Any]] = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (len(i.comments), i.number),
    }
    found.sort(key=keys.get(sort, keys["created"]), reverse=call.arg("direction", "desc") != "asc")
    return api.paginate([resources.issue(api.urls, repo, i) for i in found], call)


def create_issue(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    title = _text(call.body, "title")
    if not title:
        raise _invalid("Issue", "title", "missing_field", "title is missing")
    body = _text(call.body, "body")
    _check_length("Issue", "body", body)
    labels = _label_names(call.body.get("labels") if isinstance(call.body, dict) else None)
    stamp = now()
    item = Issue(
        id=api.state.new_id(),
        number=repo.next_number(),
        title=title,
        body=body,
        author=api.state.token_owner,
        created_at=stamp,
        updated_at=stamp,
        labels=[api.state.ensure_label(repo, n).name for n in dict.fromkeys(labels)],
    )
    repo.issues[item.number] = item
    return Reply(201, resources.issue(api.urls, repo, item))


def get_issue(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    return Reply(200, resources.issue(api.urls, repo, api.issue_of(repo, call)))


def edit_issue(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    item = api.issue_of(repo, call)
    changes = call.body if isinstance(call.body, dict) else {}
    if "body" in changes:
        _check_length("Issue", "body", changes["body"])
        item.body = changes["body"]
    if isinstance(changes.get("title"), str):
        item.title = changes["title"]
    if "labels" in changes:
        names = _label_names(changes["labels"])
        item.labels = [api.state.ensure_label(repo, n).name for n in dict.fromkeys(names)]
    state = changes.get("state")
    if state == "closed" and item.state == "open":
        item.state, item.closed_at, item.closed_by = "closed", now(), api.state.token_owner
        item.state_reason = changes.get("state_reason") or "completed"
    elif state == "open" and item.state == "closed":
        item.state, item.closed_at, item.state_reason = "open", None, "reopened"
    item.updated_at = now()
    return Reply(200, resources.issue(api.urls, repo, item))


def list_comments(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    item = api.issue_of(repo, call)
    notes = [resources.comment(api.urls, repo, item, c) for c in item.comments]
    return api.paginate(notes, call)


def create_comment(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    item = api.issue_of(repo, call)
    body = _text(call.body, "body")
    if not body:
        raise _invalid("IssueComment", "body", "missing_field", "body is missing")
    _check_length("IssueComment", "body", body)
    stamp = now()
    note = Comment(
        id=api.state.new_id(),
        body=body,
        author=api.state.token_owner,
        created_at=stamp,
        updated_at=stamp,
    )
    item.comments.append(note)
    item.updated_at = stamp
    return Reply(201, resources.comment(api.urls, repo, item, note))


def issue_labels(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    item = api.issue_of(repo, call)
    return Reply(
        200, [resources.label(api.urls, repo, repo.labels[n.lower()]) for n in item.labels]
    )


def add_issue_labels(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    item = api.issue_of(repo, call)
    given = call.body.get("labels") if isinstance(call.body, dict) else call.body
    names = _label_names(given)
    if not names:
        raise _invalid("Label", "labels", "missing_field", "labels is missing")
    present = {n.lower() for n in item.labels}
    for name in names:
        if name.lower() not in present:
            item.labels.append(api.state.ensure_label(repo, name).name)
            present.add(name.lower())
    item.updated_at = now()
    return issue_labels(api, repo, call)


def list_labels(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    items = sorted(repo.labels.values(), key=lambda label: label.name.lower())
    return api.paginate([resources.label(api.urls, repo, label) for label in items], call)


def create_label(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    name = _text(call.body, "name")
    if not name:
        raise _invalid("Label", "name", "missing_field", "name is missing")
    if len(name) > 50:
        raise _invalid("Label", "name", "custom", "name is too long (maximum is 50 characters)")
    if repo.label(name) is not None:
        raise _invalid("Label", "name", "already_exists", "name already exists")
    label = api.state.ensure_label(repo, name)
    label.color = _text(call.body, "color") or label.color
    label.description = _text(call.body, "description")
    return Reply(201, resources.label(api.urls, repo, label))


def get_label(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    label = repo.label(call.params["name"])
    if label is None:
        raise _not_found()
    return Reply(200, resources.label(api.urls, repo, label))


def _matches_head(repo: Repo, item: Issue, head: str | None) -> bool:
    if head is None or item.pull is None:
        return True
    owner, _, ref = head.rpartition(":")
    return ref == item.pull.head_ref and (not owner or owner.lower() == repo.owner.lower())


def list_pulls(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    state, head, base = call.arg("state", "open"), call.arg("head"), call.arg("base")
    found = [
        i
        for i in repo.issues.values()
        if i.pull is not None
        and (state == "all" or i.state == state)
        and _matches_head(repo, i, head)
        and (base is None or i.pull.base_ref == base)
    ]
    found.sort(key=lambda i: i.number, reverse=call.arg("direction", "desc") != "asc")
    return api.paginate([resources.pull(api.urls, repo, i, simple=True) for i in found], call)


def create_pull(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    body = call.body if isinstance(call.body, dict) else {}
    title, head, base = _text(body, "title"), _text(body, "head"), _text(body, "base")
    if not title:
        raise _invalid("PullRequest", "title", "missing_field", "title is missing")
    head_ref = (head or "").rpartition(":")[2]
    if head_ref not in repo.branches:
        raise _invalid("PullRequest", "head", "invalid", f"head {head!r} is not a branch")
    if base not in repo.branches:
        raise _invalid("PullRequest", "base", "invalid", f"base {base!r} is not a branch")
    for other in repo.issues.values():
        pull = other.pull
        if pull and other.state == "open" and (pull.head_ref, pull.base_ref) == (head_ref, base):
            raise _invalid(
                "PullRequest",
                "head",
                "custom",
                f"A pull request already exists for {repo.owner}:{head_ref}.",
            )
    text = _text(body, "body")
    _check_length("PullRequest", "body", text)
    stamp = now()
    item = Issue(
        id=api.state.new_id(),
        number=repo.next_number(),
        title=title,
        body=text,
        author=api.state.token_owner,
        created_at=stamp,
        updated_at=stamp,
        pull=Pull(
            head_ref=head_ref,
            head_sha=repo.branches[head_ref],
            base_ref=base,
            base_sha=repo.branches[base],
            draft=body.get("draft") is True,
            maintainer_can_modify=body.get("maintainer_can_modify") is True,
        ),
    )
    repo.issues[item.number] = item
    return Reply(201, resources.pull(api.urls, repo, item))


def get_pull(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    item = api.issue_of(repo, call)
    if item.pull is None:
        raise _not_found()
    return Reply(200, resources.pull(api.urls, repo, item))


def get_branch(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    name = call.params["branch"]
    sha = repo.branches.get(name)
    if sha is None:
        raise _not_found("Branch not found")
    return Reply(200, resources.branch(api.urls, repo, name, sha))


LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}


def get_collaborator_permission(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    """Like GitHub on a public repository: anyone reads; a role is given by ``set_role``."""
    login = call.params["username"]
    role = repo.roles.get(login, "read")
    push = role in ("admin", "maintain", "write")
    collaborator = {
        **resources.user(api.urls, login),
        "permissions": {
            "pull": True,
            "triage": role != "read",
            "push": push,
            "maintain": role in ("admin", "maintain"),
            "admin": role == "admin",
        },
        "role_name": role,
    }
    body = {"permission": LEGACY_PERMISSION[role], "role_name": role, "user": collaborator}
    return Reply(200, body)


def list_deployments(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    wanted = {k: call.arg(k) for k in ("environment", "ref", "sha", "task")}
    found = [
        d
        for d in repo.deployments.values()
        if all(v is None or v == "none" or getattr(d, k) == v for k, v in wanted.items())
    ]
    found.sort(key=lambda d: (d.created_at, d.id), reverse=True)
    return api.paginate([resources.deployment(api.urls, repo, d) for d in found], call)


def list_deployment_statuses(api: GitHubApi, repo: Repo, call: Call) -> Reply:
    item = repo.deployments.get(int(call.params["deployment"]))
    if item is None:
        raise _not_found()
    newest_first = sorted(item.statuses, key=lambda s: (s.created_at, s.id), reverse=True)
    return api.paginate(
        [resources.deployment_status(api.urls, repo, item, s) for s in newest_first], call
    )


_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "", get_repo),
    ("GET", "/issues", list_issues),
    ("POST", "/issues", create_issue),
    ("GET", "/issues/(?P<number>[0-9]+)", get_issue),
    ("PATCH", "/issues/(?P<number>[0-9]+)", edit_issue),
    ("GET", "/issues/(?P<number>[0-9]+)/comments", list_comments),
    ("POST", "/issues/(?P<number>[0-9]+)/comments", create_comment),
    ("GET", "/issues/(?P<number>[0-9]+)/labels", issue_labels),
    ("POST", "/issues/(?P<number>[0-9]+)/labels", add_issue_labels),
    ("GET", "/labels", list_labels),
    ("POST", "/labels", create_label),
    ("GET", "/labels/(?P<name>[^/]+)", get_label),
    ("GET", "/pulls", list_pulls),
    ("POST", "/pulls", create_pull),
    ("GET", "/pulls/(?P<number>[0-9]+)", get_pull),
    ("GET", "/branches/(?P<branch>.+)", get_branch),
    ("GET", "/deployments", list_deployments),
    ("GET", "/deployments/(?P<deployment>[0-9]+)/statuses", list_deployment_statuses),
    ("GET", "/collaborators/(?P<username>[A-Za-z0-9-]+)/permission", get_collaborator_permission),
]


def parse_json(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise Refused(Reply(400, resources.error(400, "Problems parsing JSON"))) from exc
