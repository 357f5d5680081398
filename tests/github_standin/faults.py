"""Injected failures: the next requests get GitHub's own error answers instead of service.

GitHub answers any operation with 502/503 when it is unwell, with 403 and ``Retry-After``
when a client trips a secondary rate limit, and with 401 when the token is refused. Each
answer here has GitHub's documented body (``message``, ``documentation_url``) and headers;
the validator checks it like any other response (``gaps.GENERIC_ERROR_STATUSES``).
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

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that answers this request, if any (counted as given)."""
        with self._lock:
            for fault in self.pending:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.pending.remove(fault)
                    self.injected.append((method, path, fault.reply.status, time.monotonic()))
                    return fault
        return None

    @property
    def exhausted(self) -> bool:
        """Every injected answer was given."""
        with self._lock:
            return not self.pending
