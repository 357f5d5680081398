"""The SQLite outbox: one file, WAL, synchronous=FULL, all access on one thread."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .base import STALE_CLAIM_S, Outbox
from .records import Entry, Note, NoteState, Outcome, Remediation, Row, State
from .statements import COMPACT_SQLITE, ERROR_LIMIT, state_counts

T = TypeVar("T")

ROWS_IN_STATE = (
    "SELECT seq, delivery_key, fingerprint, status, alert, received_at, attempts"
    " FROM outbox WHERE state = ? ORDER BY seq LIMIT ?"
)

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_key TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    alert TEXT NOT NULL,
    received_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    flow_run_id TEXT,
    started_run INTEGER NOT NULL DEFAULT 0,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, seq);
CREATE INDEX IF NOT EXISTS outbox_starts ON outbox(started_run, done_at);
CREATE TABLE IF NOT EXISTS remediations (
    fingerprint TEXT PRIMARY KEY,
    flow_run_id TEXT NOT NULL,
    opened_at REAL NOT NULL,
    occurrences INTEGER NOT NULL,
    last_seen REAL NOT NULL,
    resolved_at REAL,
    flapping INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_fingerprint ON outbox(fingerprint, received_at);
CREATE TABLE IF NOT EXISTS notes (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    flow_run_id TEXT NOT NULL,
    service TEXT,
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    issue INTEGER,
    done_at REAL
);
CREATE INDEX IF NOT EXISTS notes_due ON notes(state, next_at);
CREATE TABLE IF NOT EXISTS handled (
    key TEXT PRIMARY KEY,
    claimed_at REAL NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
"""


class SQLiteOutbox(Outbox):
    unavailable = (sqlite3.Error, OSError)

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._db: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            assert self._db is not None
            return work(self._db)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def _fetch(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await self._run(lambda db: db.execute(sql, parameters).fetchall())

    async def _execute(self, sql: str, parameters: tuple[Any, ...]) -> None:
        await self._run(lambda db: db.execute(sql, parameters))

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def transaction(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
                db.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full) can leave the transaction open; SQLite may
                # also have rolled it back already.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            return result

        return await self._run(transaction)

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def connect() -> None:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=10000")
            db.executescript(SQLITE_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(remediations)")}
            if "flapping" not in columns:
                db.execute(
                    "ALTER TABLE remediations ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0"
                )
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(lambda db: db.close())
            self._db = None
        self._executor.shutdown(wait=True)

    async def _insert(self, entries: list[Entry]) -> list[bool]:
        def insert(db: sqlite3.Connection) -> list[bool]:
            results = []
            for e in entries:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO outbox"
                    " (delivery_key, fingerprint, status, alert, received_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (e.delivery_key, e.fingerprint, e.status, e.alert_json, e.received_at),
                )
                results.append(cursor.rowcount == 1)
            return results

        return await self._transaction(insert)

    async def pending(self, limit: int) -> list[Row]:
        return await self._in_state(State.PENDING, limit)

    async def held(self, limit: int) -> list[Row]:
        return await self._in_state(State.HELD, limit)

    async def _in_state(self, state: State, limit: int) -> list[Row]:
        return [Row(*row) for row in await self._fetch(ROWS_IN_STATE, (state, limit))]

    async def _remediation_rows(self, fingerprints: list[str]) -> list[tuple[Any, ...]]:
        return await self._fetch(
            "SELECT fingerprint, flow_run_id, opened_at, occurrences, last_seen, resolved_at,"
            " flapping FROM remediations WHERE fingerprint IN (SELECT value FROM json_each(?))",
            (json.dumps(fingerprints),),
        )

    async def _history_rows(self, fingerprints: list[str], since: float) -> list[tuple[Any, ...]]:
        return await self._fetch(
            "SELECT seq, fingerprint, status, state, received_at FROM outbox"
            " WHERE fingerprint IN (SELECT value FROM json_each(?)) AND received_at > ?"
            " AND state != 'pending' ORDER BY seq",
            (json.dumps(fingerprints), since),
        )

    async def starts_since(self, since: float) -> list[float]:
        rows = await self._fetch(
            "SELECT done_at FROM outbox WHERE started_run = 1 AND done_at > ? ORDER BY done_at",
            (since,),
        )
        return [float(r[0]) for r in rows]

    async def _commit(
        self, outcomes: list[Outcome], remediations: list[Remediation], notes: list[Note]
    ) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE outbox SET state = ?, done_at = ?, flow_run_id = ?, started_run = ?,"
                " last_error = ? WHERE seq = ?",
                [
                    (o.state, o.done_at, o.flow_run_id, int(o.started_run), o.error, o.seq)
                    for o in outcomes
                ],
            )
            db.executemany(
                "INSERT INTO remediations (fingerprint, flow_run_id, opened_at, occurrences,"
                " last_seen, resolved_at, flapping) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(fingerprint) DO UPDATE SET flow_run_id = excluded.flow_run_id,"
                " opened_at = excluded.opened_at, occurrences = excluded.occurrences,"
                " last_seen = excluded.last_seen, resolved_at = excluded.resolved_at,"
                " flapping = excluded.flapping",
                [r.values() for r in remediations],
            )
            db.executemany(
                "INSERT OR IGNORE INTO notes"
                " (key, fingerprint, flow_run_id, service, text, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [n.values() for n in notes],
            )

        await self._transaction(write)

    async def due_notes(self, now: float, limit: int, horizon_s: float) -> list[Note]:
        rows = await self._fetch(
            "SELECT key, fingerprint, flow_run_id, service, text, created_at, attempts"
            " FROM notes WHERE state = 'pending' AND (next_at <= ? OR next_at > ?)"
            " ORDER BY created_at LIMIT ?",
            (now, now + horizon_s, limit),
        )
        return [Note(*row) for row in rows]

    async def finish_note(self, key: str, state: NoteState, issue: int | None, now: float) -> None:
        await self._execute(
            "UPDATE notes SET state = ?, issue = ?, done_at = ? WHERE key = ?",
            (state, issue, now, key),
        )

    async def retry_note(self, key: str, next_at: float, error: str) -> None:
        await self._execute(
            "UPDATE notes SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE key = ?",
            (next_at, error[:ERROR_LIMIT], key),
        )

    async def note_counts(self) -> dict[str, int]:
        rows = await self._fetch("SELECT state, COUNT(*) FROM notes GROUP BY state", ())
        return {str(state): int(count) for state, count in rows}

    async def claim(self, key: str, now: float) -> bool:
        def insert(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "INSERT INTO handled (key, claimed_at) VALUES (?, ?) ON CONFLICT(key)"
                " DO UPDATE SET claimed_at = excluded.claimed_at"
                " WHERE handled.done = 0 AND handled.claimed_at < ?",
                (key, now, now - STALE_CLAIM_S),
            )
            return cursor.rowcount == 1

        return await self._run(insert)

    async def finish(self, key: str) -> None:
        await self._execute("UPDATE handled SET done = 1 WHERE key = ?", (key,))

    async def release(self, key: str) -> None:
        await self._execute("DELETE FROM handled WHERE key = ?", (key,))

    async def postpone(self, seqs: list[int], error: str) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                [(error[:ERROR_LIMIT], seq) for seq in seqs],
            )

        await self._transaction(write)

    async def counts(self) -> dict[str, int]:
        return state_counts(
            await self._fetch("SELECT state, COUNT(*) FROM outbox GROUP BY state", ())
        )

    async def prune(self, before: float) -> int:
        def delete(db: sqlite3.Connection) -> int:
            cursor = db.execute(COMPACT_SQLITE, (before,))
            db.execute("DELETE FROM notes WHERE state != 'pending' AND done_at < ?", (before,))
            db.execute("DELETE FROM handled WHERE claimed_at < ?", (before,))
            return int(cursor.rowcount)

        return await self._transaction(delete)
