"""The embedded tracker: issues and comments kept as files a person can read.

Layout under ``<data dir>/issues``: ``<n>.json`` holds an issue (the record), ``<n>.md`` is
the same issue rendered for reading, ``.lock`` serialises writers across processes,
``.marker-key`` signs the body's markers when ``REMEDIATE_MARKER_KEY`` is not set.
A comment's key is a field of its record; the body's marker counts only when signed and in
the body's header, never from the alert text below it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from remediate.trackers.base import IssueDraft
from remediate.trackers.markers import OCCURRENCE, MarkerSigner
from remediate.trackers.models import IssueAction, IssueRef


class LocalComment(BaseModel):
    key: str
    body: str
    created_at: datetime


class LocalIssue(BaseModel):
    number: int
    fingerprint: str
    title: str
    body: str
    labels: list[str]
    state: Literal["open", "closed"] = "open"
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    comments: list[LocalComment] = Field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"# #{self.number} {self.title}",
            "",
            f"State: {self.state} · labels: {', '.join(self.labels) or '-'}"
            f" · opened {self.created_at.isoformat()}",
            "",
            self.body,
        ]
        for comment in self.comments:
            lines += ["", "---", "", f"**Comment, {comment.created_at.isoformat()}**", ""]
            lines.append(comment.body)
        return "\n".join(lines) + "\n"


class LocalTracker:
    kind: Literal["local"] = "local"

    def __init__(
        self,
        root: Path,
        reopen_window: timedelta = timedelta(hours=72),
        web_base: str | None = None,
    ) -> None:
        """``web_base``: where the gateway serves these issues (``http://…/issues``); issue
        links are ``file://`` paths without it."""
        self.root = root
        self.reopen_window = reopen_window
        self.web_base = web_base.rstrip("/") if web_base else None
        self._markers: MarkerSigner | None = None

    @property
    def markers(self) -> MarkerSigner:
        if self._markers is None:
            self._markers = MarkerSigner.for_directory(self.root)
        return self._markers

    def _written(self, issue: LocalIssue, key: str) -> bool:
        in_body = self.markers.carries(issue.body, OCCURRENCE, key)
        return in_body or any(comment.key == key for comment in issue.comments)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def issues(self) -> list[LocalIssue]:
        if not self.root.is_dir():
            return []
        found = [
            LocalIssue.model_validate_json(path.read_text(encoding="utf-8"))
            for path in self.root.glob("*.json")
        ]
        return sorted(found, key=lambda issue: issue.number)

    def get(self, number: int) -> LocalIssue:
        path = self.root / f"{number}.json"
        return LocalIssue.model_validate_json(path.read_text(encoding="utf-8"))

    def _save(self, issue: LocalIssue) -> None:
        for suffix, text in ((".json", issue.model_dump_json(indent=2)), (".md", issue.render())):
            target = self.root / f"{issue.number}{suffix}"
            partial = target.with_suffix(suffix + ".tmp")
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, target)

    def _ref(self, issue: LocalIssue, action: IssueAction) -> IssueRef:
        if self.web_base:
            url = f"{self.web_base}/{issue.number}"
        else:
            url = (self.root / f"{issue.number}.md").resolve().as_uri()
        return IssueRef(tracker="local", number=issue.number, url=url, action=action)

    def open_or_update(self, draft: IssueDraft, now: datetime) -> IssueRef:
        with self._locked():
            issues = [i for i in self.issues() if i.fingerprint == draft.fingerprint]
            current = next((i for i in reversed(issues) if i.state == "open"), None)
            if current is None:
                recent = [
                    i
                    for i in issues
                    if i.closed_at is not None and now - i.closed_at <= self.reopen_window
                ]
                current = recent[-1] if recent else None
            if current is None:
                number = max((i.number for i in self.issues()), default=0) + 1
                issue = LocalIssue(
                    number=number,
                    fingerprint=draft.fingerprint,
                    title=draft.title,
                    body=draft.marked_body(self.markers),
                    labels=sorted(set(draft.labels)),
                    created_at=now,
                    updated_at=now,
                )
                self._save(issue)
                return self._ref(issue, IssueAction.OPENED)
            if self.markers.carries(current.body, OCCURRENCE, draft.occurrence_key):
                return self._ref(current, IssueAction.OPENED)
            if self._written(current, draft.occurrence_key):
                return self._ref(current, IssueAction.UNCHANGED)
            action = IssueAction.COMMENTED
            if current.state == "closed":
                current.state, current.closed_at = "open", None
                action = IssueAction.REOPENED
            current.comments.append(
                LocalComment(key=draft.occurrence_key, body=draft.comment, created_at=now)
            )
            current.updated_at = now
            self._save(current)
            return self._ref(current, action)

    def add_comment(self, number: int, key: str, text: str) -> bool:
        with self._locked():
            issue = self.get(number)
            if self._written(issue, key):
                return False
            now = datetime.now(issue.created_at.tzinfo)
            issue.comments.append(LocalComment(key=key, body=text, created_at=now))
            issue.updated_at = now
            self._save(issue)
            return True

    def issue_for(self, fingerprint: str) -> int | None:
        issues = [i for i in self.issues() if i.fingerprint == fingerprint]
        opened = [i for i in issues if i.state == "open"]
        if opened:
            return opened[-1].number
        closed = [i for i in issues if i.closed_at is not None]
        return max(closed, key=lambda i: i.closed_at or i.created_at).number if closed else None

    def close(self, number: int, now: datetime) -> None:
        with self._locked():
            issue = self.get(number)
            issue.state, issue.closed_at, issue.updated_at = "closed", now, now
            self._save(issue)
