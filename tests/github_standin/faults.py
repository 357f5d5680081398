"""Scripted failures of the stand-in, and when each request arrived.

``fail_next`` makes the next requests to one operation answer an error (GitHub's error
body, with the headers given) instead of reaching the API, so nothing they ask for
happens. Every request's arrival time is kept, for checking a client's pacing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tests.github_standin import resources
from tests.github_standin.api import Reply

SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass(frozen=True)
class Arrival:
    at: float
    """Wall-clock time the request arrived (``time.time``, the clock PyGithub paces by)."""
    method: str
    path: str
    status: int | None = None


@dataclass
class _Fault:
    method: str
    path: str
    status: int
    message: str
    headers: dict[str, str]


@dataclass
class Faults:
    arrivals: list[Arrival] = field(default_factory=list)
    _queue: list[_Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        message: str = "Server Error",
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` requests ``method path`` (after ``/api/v3``) answer ``status``."""
        with self._lock:
            for _ in range(times):
                self._queue.append(_Fault(method, path, status, message, dict(headers or {})))

    def take(self, method: str, path: str, authorised: bool = True) -> Reply | None:
        """The scripted answer for this request, if one is due (a request without valid
        credentials gets none: it is refused as before); records its arrival."""
        with self._lock:
            due = (f for f in self._queue if authorised and (f.method, f.path) == (method, path))
            fault = next(due, None)
            if fault is not None:
                self._queue.remove(fault)
            status = fault.status if fault is not None else None
            self.arrivals.append(Arrival(time.time(), method, path, status))
        if fault is None:
            return None
        return Reply(fault.status, resources.error(fault.status, fault.message), fault.headers)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)
