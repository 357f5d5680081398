"""In-memory GitHub data: repositories with their branches, labels, issues and pulls."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class Comment:
    id: int
    body: str
    author: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Pull:
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    draft: bool = False
    maintainer_can_modify: bool = False


@dataclass
class Issue:
    id: int
    number: int
    title: str
    body: str | None
    author: str
    created_at: datetime
    updated_at: datetime
    labels: list[str] = field(default_factory=list)
    state: Literal["open", "closed"] = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    comments: list[Comment] = field(default_factory=list)
    pull: Pull | None = None


@dataclass
class DeploymentStatus:
    id: int
    state: str
    created_at: datetime
    description: str = ""


@dataclass
class Deployment:
    id: int
    ref: str
    sha: str
    environment: str
    created_at: datetime
    creator: str
    task: str = "deploy"
    description: str | None = None
    statuses: list[DeploymentStatus] = field(default_factory=list)


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str
    created_at: datetime
    branches: dict[str, str] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    deployments: dict[int, Deployment] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    """login -> role (admin, maintain, write, triage, read); anyone else reads (public)."""

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def label(self, name: str) -> Label | None:
        return self.labels.get(name.lower())

    def next_number(self) -> int:
        return max(self.issues, default=0) + 1


class State:
    """All repositories; ``lock`` guards every read and write."""

    def __init__(self, token_owner: str) -> None:
        self.token_owner = token_owner
        self.lock = threading.RLock()
        self.repos: dict[str, Repo] = {}
        self._ids = itertools.count(1000)

    def new_id(self) -> int:
        return next(self._ids)

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def add_repo(self, owner: str, name: str, default_branch: str, sha: str) -> Repo:
        with self.lock:
            repo = Repo(
                id=self.new_id(),
                owner=owner,
                name=name,
                default_branch=default_branch,
                created_at=now(),
                branches={default_branch: sha},
            )
            self.repos[repo.full_name.lower()] = repo
            return repo

    def ensure_label(self, repo: Repo, name: str) -> Label:
        with self.lock:
            label = repo.label(name)
            if label is None:
                label = Label(id=self.new_id(), name=name)
                repo.labels[name.lower()] = label
            return label
