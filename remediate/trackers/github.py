"""The GitHub tracker: one issue per fingerprint, found by a label, written idempotently.

The issue for a fingerprint carries the label ``remediate-fp:<fingerprint>`` (hashed when the
fingerprint does not fit GitHub's 50-character label limit). Listing issues by label reads
GitHub's primary store, unlike the search API, which is only eventually consistent.

A marker counts only when it is signed (``markers.py``) and written by the token's own user:
anyone can comment on an issue, so a marker in another person's comment is never read.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import requests
from github import Auth, Consts, Github, GithubException, GithubRetry
from github.GithubException import BadCredentialsException, UnknownObjectException
from github.Issue import Issue
from github.NamedUser import NamedUser
from github.Organization import Organization
from github.Repository import Repository as GitHubRepository
from urllib3.util import Retry

from remediate.catalog import Repository
from remediate.trackers.base import IssueDraft
from remediate.trackers.errors import TrackerError
from remediate.trackers.markers import FINGERPRINT, OCCURRENCE, MarkerSigner
from remediate.trackers.models import IssueAction, IssueRef
from remediate.trackers.token import GitHubToken

LABEL_LIMIT = 50
FINGERPRINT_LABEL_PREFIX = "remediate-fp:"
DUPLICATE = "duplicate"
PERMANENT_STATUSES = frozenset({400, 401, 404, 410, 422})
TEXT_LIMIT = 65_536
TEXT_BUDGET = 65_000
TRUNCATION_NOTE = "\n\n_(truncated to fit GitHub's size limit; the full report is on the run)_\n"


def fingerprint_label(fingerprint: str) -> str:
    """Label names are case-insensitive and at most 50 characters; any other fingerprint is
    hashed, and its issues are then confirmed by the fingerprint marker in their body."""
    room = LABEL_LIMIT - len(FINGERPRINT_LABEL_PREFIX)
    if len(fingerprint) <= room and fingerprint == fingerprint.lower():
        return FINGERPRINT_LABEL_PREFIX + fingerprint
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()
    return FINGERPRINT_LABEL_PREFIX + "h" + digest[: room - 1]


def fit(text: str) -> str:
    """Issue bodies and comments are limited to 65,536 characters; keep the head."""
    if len(text) <= TEXT_BUDGET:
        return text
    return text[: TEXT_BUDGET - len(TRUNCATION_NOTE)] + TRUNCATION_NOTE


RATE_LIMIT_STATUSES = frozenset({403, 429})


class WriteSafeRetry(GithubRetry):
    """PyGithub's retry, except that a write (POST, PATCH) answered 5xx is not sent again.

    A 502 or 503 can come from GitHub's front end after the write was applied; sending it
    again would open a second issue or post a second comment. The tracker's task retries
    instead, and every write there first looks for what it already wrote. Rate-limited
    writes (403 or 429 with ``Retry-After`` or a rate-limit message) were not applied, so
    they are still sent again after the wait GitHub asks for."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() not in Retry.DEFAULT_ALLOWED_METHODS | {"GET"} and (
            status_code not in RATE_LIMIT_STATUSES
        ):
            return False
        return bool(super().is_retry(method, status_code, has_retry_after))


@dataclass(frozen=True)
class ClientSettings:
    """How the PyGithub client paces and retries. The defaults are PyGithub's own, which
    follow GitHub's secondary rate-limit guidance (0.25 s between requests, 1 s between
    writes, retries on rate limits and server errors), except that a write answered 5xx is
    left to the task's retry (:class:`WriteSafeRetry`)."""

    seconds_between_requests: float | None = Consts.DEFAULT_SECONDS_BETWEEN_REQUESTS
    seconds_between_writes: float | None = Consts.DEFAULT_SECONDS_BETWEEN_WRITES
    retry: int | Retry | None = field(default_factory=WriteSafeRetry)
    timeout: int = Consts.DEFAULT_TIMEOUT

    @classmethod
    def unpaced(cls) -> ClientSettings:
        """No pacing and no retries: for a local API that has no rate limits."""
        return cls(seconds_between_requests=0, seconds_between_writes=0, retry=None, timeout=10)


class GitHubTracker:
    kind: Literal["github"] = "github"

    def __init__(
        self,
        repository: Repository,
        token: GitHubToken,
        reopen_window: timedelta = timedelta(hours=72),
        client: ClientSettings | None = None,
        markers: MarkerSigner | None = None,
    ) -> None:
        settings = client or ClientSettings()
        self.markers = markers or MarkerSigner.for_token(token.value.get_secret_value())
        self.repository = repository
        self.base_url = (
            str(repository.api_base_url).rstrip("/")
            if repository.api_base_url is not None
            else Consts.DEFAULT_BASE_URL
        )
        self.reopen_window = reopen_window
        self._token_source = token.source
        self._github = Github(
            base_url=self.base_url,
            auth=Auth.Token(token.value.get_secret_value()),
            retry=settings.retry,
            timeout=settings.timeout,
            seconds_between_requests=settings.seconds_between_requests,
            seconds_between_writes=settings.seconds_between_writes,
        )
        self._repo: GitHubRepository | None = None
        self._login: str | None = None

    @contextlib.contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        where = f"{self.repository.full_name} at {self.base_url}"
        try:
            yield
        except BadCredentialsException as exc:
            raise TrackerError(
                f"GitHub refused the token from {self._token_source} while trying to {action}"
                f" on {where}: {exc.status} {_message(exc.data)}",
                retriable=False,
            ) from None
        except UnknownObjectException as exc:
            raise TrackerError(
                f"GitHub answered 404 while trying to {action} on {where}: the repository or"
                f" issue does not exist, or the token from {self._token_source} cannot see it"
                f" ({_message(exc.data)})",
                retriable=False,
            ) from None
        except GithubException as exc:
            raise TrackerError(
                f"GitHub failed to {action} on {where}: {exc.status} {_message(exc.data)}",
                retriable=exc.status not in PERMANENT_STATUSES,
            ) from None
        except requests.RequestException as exc:
            raise TrackerError(
                f"GitHub API unreachable while trying to {action} on {where}: {type(exc).__name__}"
            ) from None

    def _repository(self) -> GitHubRepository:
        if self._repo is None:
            with self._calling("read the repository"):
                self._repo = self._github.get_repo(self.repository.full_name)
        return self._repo

    def _own(self, author: NamedUser | Organization | None) -> bool:
        """Whether ``author`` is the user the token belongs to."""
        if self._login is None:
            with self._calling("read the token's user"):
                self._login = self._github.get_user().login
        return author is not None and author.login == self._login

    def _ref(self, issue: Issue, action: IssueAction) -> IssueRef:
        return IssueRef(tracker="github", number=issue.number, url=issue.html_url, action=action)

    def _issues_for(self, fingerprint: str) -> list[Issue]:
        """The fingerprint's issues in number order, without pulls and retired duplicates."""
        label = fingerprint_label(fingerprint)
        exact = label == FINGERPRINT_LABEL_PREFIX + fingerprint
        with self._calling("list the issues labelled " + label):
            found = self._repository().get_issues(
                labels=[label], state="all", sort="created", direction="asc"
            )
            return sorted(
                (
                    issue
                    for issue in found
                    if issue.pull_request is None
                    and issue.state_reason != DUPLICATE
                    and (exact or self.markers.carries(issue.body, FINGERPRINT, fingerprint))
                ),
                key=lambda issue: issue.number,
            )

    def _settle(self, issues: list[Issue], now: datetime) -> Issue | None:
        """The issue to write to: the oldest open one (newer open ones were opened
        concurrently for the same fingerprint and are closed as its duplicates), else the
        most recently closed one inside the reopen window."""
        opened = [i for i in issues if i.state == "open"]
        if opened:
            for duplicate in opened[1:]:
                self._retire(duplicate, opened[0])
            return opened[0]
        recent = [
            i for i in issues if i.closed_at is not None and now - i.closed_at <= self.reopen_window
        ]
        return max(recent, key=lambda i: i.closed_at or now) if recent else None

    def _retire(self, duplicate: Issue, canonical: Issue) -> None:
        with self._calling(f"close issue #{duplicate.number} as a duplicate"):
            duplicate.create_comment(
                f"Duplicate of #{canonical.number}, opened at the same time for the same alert"
                " fingerprint; updates continue there."
            )
            duplicate.edit(state="closed", state_reason=DUPLICATE)

    def _in_body(self, issue: Issue, key: str) -> bool:
        return self.markers.carries(issue.body, OCCURRENCE, key) and self._own(issue.user)

    def _written(self, issue: Issue, key: str) -> bool:
        """Whether ``key`` was written on ``issue``: in its body or in one of our comments."""
        if self._in_body(issue, key):
            return True
        with self._calling(f"read the comments of issue #{issue.number}"):
            return any(
                self.markers.carries(comment.body, OCCURRENCE, key) and self._own(comment.user)
                for comment in issue.get_comments()
            )

    def open_or_update(self, draft: IssueDraft, now: datetime) -> IssueRef:
        current = self._settle(self._issues_for(draft.fingerprint), now)
        if current is None:
            with self._calling("open an issue"):
                created = self._repository().create_issue(
                    title=draft.title,
                    body=fit(draft.marked_body(self.markers)),
                    labels=list(
                        dict.fromkeys([*draft.labels, fingerprint_label(draft.fingerprint)])
                    ),
                )
            current = self._settle(self._issues_for(draft.fingerprint), now)
            if current is None or current.number == created.number:
                return self._ref(created, IssueAction.OPENED)
        if self._in_body(current, draft.occurrence_key):
            return self._ref(current, IssueAction.OPENED)
        if self._written(current, draft.occurrence_key):
            return self._ref(current, IssueAction.UNCHANGED)
        action = IssueAction.COMMENTED
        with self._calling(f"update issue #{current.number}"):
            if current.state == "closed":
                current.edit(state="open")
                action = IssueAction.REOPENED
            present = {existing.name.lower() for existing in current.labels}
            missing = [name for name in dict.fromkeys(draft.labels) if name.lower() not in present]
            if missing:
                current.add_to_labels(*missing)
            current.create_comment(fit(draft.marked_comment(self.markers)))
        return self._ref(current, action)

    def issue_for(self, fingerprint: str) -> int | None:
        issues = self._issues_for(fingerprint)
        opened = [i for i in issues if i.state == "open"]
        if opened:
            return opened[0].number
        closed = [i for i in issues if i.closed_at is not None]
        return max(closed, key=lambda i: i.closed_at or datetime.min).number if closed else None

    def add_comment(self, number: int, key: str, text: str) -> bool:
        with self._calling(f"read issue #{number}"):
            issue = self._repository().get_issue(number)
        if self._written(issue, key):
            return False
        with self._calling(f"comment on issue #{number}"):
            issue.create_comment(fit(self.markers.header((OCCURRENCE, key)) + text))
        return True


def _message(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:300]
    return "no message"
