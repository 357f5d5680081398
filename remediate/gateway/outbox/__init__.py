"""The durable outbox: an alert is acknowledged only after its row is committed here.

SQLite (WAL, synchronous=FULL) by default; PostgreSQL when a ``postgresql://`` URL is given.
Concurrent requests are written in one transaction each batch (group commit). The outbox
stores and reads alerts, remediations and notes; it does not decide what becomes of an
alert (``remediate.gateway.delivery`` does) and does not talk to Prefect or the tracker.
"""

from __future__ import annotations

from pathlib import Path

from remediate.storage import PostgresLocation, SQLiteLocation, locate

from .base import Outbox, OutboxUnavailable
from .postgres import PostgresOutbox
from .records import Entry, Note, NoteState, Outcome, Remediation, Row, Seen, State
from .sqlite import SQLiteOutbox

__all__ = [
    "Entry",
    "Note",
    "NoteState",
    "Outbox",
    "OutboxUnavailable",
    "Outcome",
    "PostgresOutbox",
    "Remediation",
    "Row",
    "SQLiteOutbox",
    "Seen",
    "State",
    "open_outbox",
]


def open_outbox(url: str | None, sqlite_path: Path) -> Outbox:
    match locate(url, sqlite_path):
        case PostgresLocation(url=postgres_url):
            return PostgresOutbox(postgres_url)
        case SQLiteLocation(path=path):
            return SQLiteOutbox(path)
