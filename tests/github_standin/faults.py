"""Injected failures: the next requests get GitHub's own error answers instead of service,
and when each request arrived (for checking a client's pacing).

GitHub answers any operation with 502/503 when it is unwell, with 403 or 429 and
``Retry-After`` when a client trips a secondary rate limit, and with 401 when the token is
refused. Each answer here has GitHub's documented body (``message``, ``documentation_url``)
and headers; the validator checks it like any other response
(``gaps.GENERIC_ERROR_STATUSES``). A request without valid credentials gets no injected
answer: it is refused as before.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tests.github_standin.api import Reply
from tests.github_standin.resources import error

SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)


def server_error(status: int) -> Reply:
    """A 5xx from GitHub's front end (502 Bad Gateway, 503 Service Unavailable)."""
    message = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}[status]
    return Reply(status, error(status, message))


def secondary_rate_limit(retry_after_s: int) -> Reply:
    body = {"message": SECONDARY_RATE_LIMIT, "documentation_url": RATE_LIMIT_DOCS}
    return Reply(403, body, {"retry-after": str(retry_after_s)})


def bad_credentials() -> Reply:
    return Reply(401, error(401, "Bad credentials"))


@dataclass(frozen=True)
class Arrival:
    at: float
    """Wall-clock time the request arrived (``time.time``, the clock PyGithub paces by)."""
    method: str
    path: str
    status: int | None = None
    """The injected answer's status, if the request got one."""


@dataclass
class Fault:
    reply: Reply
    times: int
    method: str | None = None
    path: str | None = None
    applied: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path == path
        )


@dataclass
class Faults:
    """Answers to give instead of serving; each fault answers its next ``times`` matching
    requests, then the stand-in serves normally again."""

    pending: list[Fault] = field(default_factory=list)
    injected: list[tuple[str, str, int, float]] = field(default_factory=list)
    """Each answer given: method, path, status, ``time.monotonic()`` when given."""
    arrivals: list[Arrival] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(
        self,
        reply: Reply,
        times: int,
        method: str | None = None,
        path: str | None = None,
        applied: bool = False,
    ) -> None:
        """Answer the next ``times`` requests (of ``method`` on ``path``, without the
        ``/api/v3`` prefix, when given) with ``reply``; with ``applied`` the request is
        handled first (a front end failing after the write was done)."""
        with self._lock:
            self.pending.append(Fault(reply, times, method and method.upper(), path, applied))

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        message: str = "Server Error",
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` requests ``method path`` answer ``status`` with GitHub's error
        body and ``headers``, and nothing they ask for happens."""
        self.inject(Reply(status, error(status, message), dict(headers or {})), times, method, path)

    def take(self, method: str, path: str, authorised: bool = True) -> Fault | None:
        """The fault that answers this request, if any (counted as given); records the
        request's arrival either way."""
        with self._lock:
            due = (f for f in self.pending if authorised and f.matches(method, path))
            fault = next(due, None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.pending.remove(fault)
                self.injected.append((method, path, fault.reply.status, time.monotonic()))
            status = fault.reply.status if fault is not None else None
            self.arrivals.append(Arrival(time.time(), method, path, status))
            return fault

    @property
    def exhausted(self) -> bool:
        """Every injected answer was given."""
        with self._lock:
            return not self.pending
