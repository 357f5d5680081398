"""What the outbox stores: alerts and their states, open remediations, owed notes."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from enum import StrEnum
from typing import Any


class State(StrEnum):
    """Where an alert is on its way to a run; the value is what the database stores."""

    PENDING = "pending"
    DELIVERED = "delivered"
    OCCURRENCE = "occurrence"
    RESOLVED = "resolved"
    FAILED = "failed"
    HELD = "held"
    EXPIRED = "expired"


class NoteState(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    NO_ISSUE = "no_issue"
    FAILED = "failed"


@dataclass(frozen=True)
class Entry:
    delivery_key: str
    fingerprint: str
    status: str
    alert_json: str
    received_at: float


@dataclass(frozen=True)
class Row:
    seq: int
    delivery_key: str
    fingerprint: str
    status: str
    alert_json: str
    received_at: float
    attempts: int


@dataclass
class Remediation:
    fingerprint: str
    flow_run_id: str
    opened_at: float
    occurrences: int
    last_seen: float
    resolved_at: float | None = None
    flapping: bool = False

    def __post_init__(self) -> None:
        self.flapping = bool(self.flapping)  # SQLite stores it as 0 or 1

    def values(self) -> tuple[Any, ...]:
        return astuple(self)


@dataclass(frozen=True)
class Seen:
    """A handled alert of a fingerprint, for counting occurrences and transitions."""

    seq: int
    fingerprint: str
    status: str
    state: State
    received_at: float

    @classmethod
    def stored(cls, seq: int, fingerprint: str, status: str, state: str, at: float) -> Seen:
        return cls(seq, fingerprint, status, State(state), at)


@dataclass(frozen=True)
class Note:
    """A comment owed to the issue of a fingerprint (a resolution, flapping), written once:
    ``key`` is its idempotency marker on the issue."""

    key: str
    fingerprint: str
    flow_run_id: str
    service: str | None
    text: str
    created_at: float
    attempts: int = 0

    def values(self) -> tuple[Any, ...]:
        """The columns a new note is inserted with: all but ``attempts``."""
        return astuple(self)[:-1]


@dataclass(frozen=True)
class Outcome:
    seq: int
    state: State
    done_at: float
    flow_run_id: str | None = None
    started_run: bool = False
    error: str | None = None
