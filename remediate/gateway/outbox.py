"""The durable outbox: an alert is acknowledged only after its row is committed here.

SQLite (WAL, synchronous=FULL) by default; PostgreSQL when a ``postgresql://`` URL is given.
Concurrent requests are written in one transaction each batch (group commit).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")

PENDING = "pending"
DELIVERED = "delivered"
OCCURRENCE = "occurrence"
RESOLVED = "resolved"
FAILED = "failed"
HELD = "held"
EXPIRED = "expired"
STATES = (PENDING, DELIVERED, OCCURRENCE, RESOLVED, FAILED, HELD, EXPIRED)

NOTE_POSTED = "posted"
NOTE_NO_ISSUE = "no_issue"
NOTE_FAILED = "failed"


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


@dataclass(frozen=True)
class Seen:
    """A handled alert of a fingerprint, for counting occurrences and transitions."""

    seq: int
    fingerprint: str
    status: str
    state: str
    received_at: float


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


@dataclass(frozen=True)
class Outcome:
    seq: int
    state: str
    done_at: float
    flow_run_id: str | None = None
    started_run: bool = False
    error: str | None = None


class Outbox(ABC):
    def __init__(self) -> None:
        self._waiting: list[tuple[list[Entry], asyncio.Future[list[bool]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, entries: list[Entry]) -> list[bool]:
        """Commit ``entries``; for each, True if new, False if that delivery was already known."""
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await self._insert([e for entries, _ in batch for e in entries])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for entries, future in batch:
                if not future.done():
                    future.set_result(results[start : start + len(entries)])
                start += len(entries)

    async def lead(self) -> bool:
        """Whether this gateway may deliver (one deliverer per shared outbox)."""
        return True

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def _insert(self, entries: list[Entry]) -> list[bool]: ...

    @abstractmethod
    async def pending(self, limit: int) -> list[Row]: ...

    @abstractmethod
    async def remediations(self, fingerprints: list[str]) -> dict[str, Remediation]: ...

    @abstractmethod
    async def history(self, fingerprints: list[str], since: float) -> list[Seen]:
        """Handled (not pending) alerts of ``fingerprints`` received after ``since``, by seq."""

    @abstractmethod
    async def starts_since(self, since: float) -> list[float]:
        """Times at which new runs were started after ``since``, oldest first."""

    @abstractmethod
    async def commit(
        self,
        outcomes: list[Outcome],
        remediations: list[Remediation],
        notes: list[Note] | None = None,
    ) -> None:
        """Write outcomes, remediations and the notes they owe in one transaction."""

    @abstractmethod
    async def held(self, limit: int) -> list[Row]:
        """Alerts in state ``held``, oldest first."""

    @abstractmethod
    async def due_notes(self, now: float, limit: int) -> list[Note]:
        """Notes not yet written whose next attempt is due."""

    @abstractmethod
    async def finish_note(self, key: str, state: str, issue: int | None, now: float) -> None: ...

    @abstractmethod
    async def retry_note(self, key: str, next_at: float, error: str) -> None: ...

    @abstractmethod
    async def note_counts(self) -> dict[str, int]: ...

    @abstractmethod
    async def postpone(self, seqs: list[int], error: str) -> None: ...

    @abstractmethod
    async def counts(self) -> dict[str, int]: ...

    @abstractmethod
    async def prune(self, before: float) -> int: ...


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
"""


class SQLiteOutbox(Outbox):
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

    @staticmethod
    def _transaction(db: sqlite3.Connection, work: Callable[[], T]) -> T:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def _insert(self, entries: list[Entry]) -> list[bool]:
        def work(db: sqlite3.Connection) -> list[bool]:
            def insert() -> list[bool]:
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

            return self._transaction(db, insert)

        return await self._run(work)

    async def pending(self, limit: int) -> list[Row]:
        return await self._in_state("pending", limit)

    async def _in_state(self, state: Literal["pending", "held"], limit: int) -> list[Row]:
        def work(db: sqlite3.Connection) -> list[Row]:
            rows = db.execute(
                "SELECT seq, delivery_key, fingerprint, status, alert, received_at, attempts"
                " FROM outbox WHERE state = ? ORDER BY seq LIMIT ?",
                (state, limit),
            ).fetchall()
            return [Row(*row) for row in rows]

        return await self._run(work)

    async def remediations(self, fingerprints: list[str]) -> dict[str, Remediation]:
        def work(db: sqlite3.Connection) -> dict[str, Remediation]:
            found: dict[str, Remediation] = {}
            rows = db.execute(
                "SELECT fingerprint, flow_run_id, opened_at, occurrences, last_seen, resolved_at,"
                " flapping FROM remediations WHERE fingerprint IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(set(fingerprints))),),
            )
            for row in rows:
                found[row[0]] = Remediation(
                    row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6])
                )
            return found

        return await self._run(work)

    async def history(self, fingerprints: list[str], since: float) -> list[Seen]:
        def work(db: sqlite3.Connection) -> list[Seen]:
            rows = db.execute(
                "SELECT seq, fingerprint, status, state, received_at FROM outbox"
                " WHERE fingerprint IN (SELECT value FROM json_each(?)) AND received_at > ?"
                " AND state != 'pending' ORDER BY seq",
                (json.dumps(sorted(set(fingerprints))), since),
            ).fetchall()
            return [Seen(*row) for row in rows]

        return await self._run(work)

    async def starts_since(self, since: float) -> list[float]:
        def work(db: sqlite3.Connection) -> list[float]:
            rows = db.execute(
                "SELECT done_at FROM outbox WHERE started_run = 1 AND done_at > ? ORDER BY done_at",
                (since,),
            ).fetchall()
            return [float(r[0]) for r in rows]

        return await self._run(work)

    async def commit(
        self,
        outcomes: list[Outcome],
        remediations: list[Remediation],
        notes: list[Note] | None = None,
    ) -> None:
        def work(db: sqlite3.Connection) -> None:
            def write() -> None:
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
                    [_remediation_values(r) for r in remediations],
                )
                db.executemany(
                    "INSERT OR IGNORE INTO notes"
                    " (key, fingerprint, flow_run_id, service, text, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [_note_values(n) for n in notes or []],
                )

            self._transaction(db, write)

        await self._run(work)

    async def held(self, limit: int) -> list[Row]:
        return await self._in_state("held", limit)

    async def due_notes(self, now: float, limit: int) -> list[Note]:
        def work(db: sqlite3.Connection) -> list[Note]:
            rows = db.execute(
                "SELECT key, fingerprint, flow_run_id, service, text, created_at, attempts"
                " FROM notes WHERE state = 'pending' AND next_at <= ? ORDER BY created_at LIMIT ?",
                (now, limit),
            ).fetchall()
            return [Note(*row) for row in rows]

        return await self._run(work)

    async def finish_note(self, key: str, state: str, issue: int | None, now: float) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE notes SET state = ?, issue = ?, done_at = ? WHERE key = ?",
                (state, issue, now, key),
            )

        await self._run(work)

    async def retry_note(self, key: str, next_at: float, error: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE notes SET attempts = attempts + 1, next_at = ?, last_error = ?"
                " WHERE key = ?",
                (next_at, error[:2000], key),
            )

        await self._run(work)

    async def note_counts(self) -> dict[str, int]:
        def work(db: sqlite3.Connection) -> dict[str, int]:
            rows = db.execute("SELECT state, COUNT(*) FROM notes GROUP BY state")
            return {str(state): int(count) for state, count in rows}

        return await self._run(work)

    async def postpone(self, seqs: list[int], error: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            def write() -> None:
                db.executemany(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                    [(error[:2000], seq) for seq in seqs],
                )

            self._transaction(db, write)

        await self._run(work)

    async def counts(self) -> dict[str, int]:
        def work(db: sqlite3.Connection) -> dict[str, int]:
            found = dict.fromkeys(STATES, 0)
            for state, count in db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"):
                found[str(state)] = int(count)
            return found

        return await self._run(work)

    async def prune(self, before: float) -> int:
        def work(db: sqlite3.Connection) -> int:
            def delete() -> int:
                cursor = db.execute(
                    "DELETE FROM outbox WHERE state != 'pending' AND done_at < ?", (before,)
                )
                db.execute("DELETE FROM notes WHERE state != 'pending' AND done_at < ?", (before,))
                return int(cursor.rowcount)

            return self._transaction(db, delete)

        return await self._run(work)


def _note_values(n: Note) -> tuple[Any, ...]:
    return (n.key, n.fingerprint, n.flow_run_id, n.service, n.text, n.created_at)


def _remediation_values(r: Remediation) -> tuple[Any, ...]:
    return (
        r.fingerprint,
        r.flow_run_id,
        r.opened_at,
        r.occurrences,
        r.last_seen,
        r.resolved_at,
        r.flapping,
    )


POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS remediate_outbox (
    seq BIGSERIAL PRIMARY KEY,
    delivery_key TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    alert TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    flow_run_id TEXT,
    started_run BOOLEAN NOT NULL DEFAULT FALSE,
    done_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS remediate_outbox_pending ON remediate_outbox(seq)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS remediate_outbox_starts ON remediate_outbox(done_at)
    WHERE started_run;
CREATE TABLE IF NOT EXISTS remediate_remediations (
    fingerprint TEXT PRIMARY KEY,
    flow_run_id TEXT NOT NULL,
    opened_at DOUBLE PRECISION NOT NULL,
    occurrences INTEGER NOT NULL,
    last_seen DOUBLE PRECISION NOT NULL,
    resolved_at DOUBLE PRECISION,
    flapping BOOLEAN NOT NULL DEFAULT FALSE
);
ALTER TABLE remediate_remediations ADD COLUMN IF NOT EXISTS flapping BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX IF NOT EXISTS remediate_outbox_fingerprint
    ON remediate_outbox(fingerprint, received_at);
CREATE TABLE IF NOT EXISTS remediate_notes (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    flow_run_id TEXT NOT NULL,
    service TEXT,
    text TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT,
    issue INTEGER,
    done_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS remediate_outbox_held ON remediate_outbox(seq) WHERE state = 'held';
CREATE INDEX IF NOT EXISTS remediate_notes_due ON remediate_notes(next_at)
    WHERE state = 'pending';
"""


def _asyncpg() -> Any:
    import asyncpg  # type: ignore[import-untyped]

    return asyncpg


SCHEMA_LOCK = 7243001
LEADER_LOCK = 7243002


class PostgresOutbox(Outbox):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._pool: Any = None
        self._leader: Any = None
        self._leading = False
        self._leader_guard = asyncio.Lock()

    async def lead(self) -> bool:
        # Delivery and the notes loop both ask; one session must hold the lock, or a second
        # connection made by the other caller would replace it and, once the first is
        # collected, another gateway could lead too.
        async with self._leader_guard:
            asyncpg = _asyncpg()
            if self._leader is None or self._leader.is_closed():
                self._leading = False
                self._leader = await asyncpg.connect(self.url)
            if not self._leading:
                self._leading = bool(
                    await self._leader.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK)
                )
            return self._leading

    async def open(self) -> None:
        asyncpg = _asyncpg()
        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=4)
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", SCHEMA_LOCK)
            try:
                await conn.execute(POSTGRES_SCHEMA)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", SCHEMA_LOCK)

    async def close(self) -> None:
        if self._leader is not None:
            await self._leader.close()
            self._leader = None
            self._leading = False
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _insert(self, entries: list[Entry]) -> list[bool]:
        async with self._pool.acquire() as conn, conn.transaction():
            results = []
            for e in entries:
                seq = await conn.fetchval(
                    "INSERT INTO remediate_outbox"
                    " (delivery_key, fingerprint, status, alert, received_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (delivery_key) DO NOTHING"
                    " RETURNING seq",
                    e.delivery_key,
                    e.fingerprint,
                    e.status,
                    e.alert_json,
                    e.received_at,
                )
                results.append(seq is not None)
            return results

    # Each state has its own statement, so its partial index applies.
    async def pending(self, limit: int) -> list[Row]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT seq, delivery_key, fingerprint, status, alert, received_at, attempts"
                " FROM remediate_outbox WHERE state = 'pending' ORDER BY seq LIMIT $1",
                limit,
            )
        return [Row(*tuple(row)) for row in rows]

    async def remediations(self, fingerprints: list[str]) -> dict[str, Remediation]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT fingerprint, flow_run_id, opened_at, occurrences, last_seen, resolved_at,"
                " flapping FROM remediate_remediations WHERE fingerprint = ANY($1::text[])",
                sorted(set(fingerprints)),
            )
        return {row[0]: Remediation(*tuple(row)) for row in rows}

    async def history(self, fingerprints: list[str], since: float) -> list[Seen]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT seq, fingerprint, status, state, received_at FROM remediate_outbox"
                " WHERE fingerprint = ANY($1::text[]) AND received_at > $2"
                " AND state != 'pending' ORDER BY seq",
                sorted(set(fingerprints)),
                since,
            )
        return [Seen(*tuple(row)) for row in rows]

    async def starts_since(self, since: float) -> list[float]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT done_at FROM remediate_outbox WHERE started_run AND done_at > $1"
                " ORDER BY done_at",
                since,
            )
        return [float(r[0]) for r in rows]

    async def commit(
        self,
        outcomes: list[Outcome],
        remediations: list[Remediation],
        notes: list[Note] | None = None,
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "UPDATE remediate_outbox SET state = $1, done_at = $2, flow_run_id = $3,"
                " started_run = $4, last_error = $5 WHERE seq = $6",
                [
                    (o.state, o.done_at, o.flow_run_id, o.started_run, o.error, o.seq)
                    for o in outcomes
                ],
            )
            await conn.executemany(
                "INSERT INTO remediate_remediations (fingerprint, flow_run_id, opened_at,"
                " occurrences, last_seen, resolved_at, flapping)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (fingerprint) DO UPDATE SET flow_run_id = excluded.flow_run_id,"
                " opened_at = excluded.opened_at, occurrences = excluded.occurrences,"
                " last_seen = excluded.last_seen, resolved_at = excluded.resolved_at,"
                " flapping = excluded.flapping",
                [_remediation_values(r) for r in remediations],
            )
            if notes:
                await conn.executemany(
                    "INSERT INTO remediate_notes"
                    " (key, fingerprint, flow_run_id, service, text, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
                    [_note_values(n) for n in notes],
                )

    async def held(self, limit: int) -> list[Row]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT seq, delivery_key, fingerprint, status, alert, received_at, attempts"
                " FROM remediate_outbox WHERE state = 'held' ORDER BY seq LIMIT $1",
                limit,
            )
        return [Row(*tuple(row)) for row in rows]

    async def due_notes(self, now: float, limit: int) -> list[Note]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT key, fingerprint, flow_run_id, service, text, created_at, attempts"
                " FROM remediate_notes WHERE state = 'pending' AND next_at <= $1"
                " ORDER BY created_at LIMIT $2",
                now,
                limit,
            )
        return [Note(*tuple(row)) for row in rows]

    async def finish_note(self, key: str, state: str, issue: int | None, now: float) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE remediate_notes SET state = $1, issue = $2, done_at = $3 WHERE key = $4",
                state,
                issue,
                now,
                key,
            )

    async def retry_note(self, key: str, next_at: float, error: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE remediate_notes SET attempts = attempts + 1, next_at = $1,"
                " last_error = $2 WHERE key = $3",
                next_at,
                error[:2000],
                key,
            )

    async def note_counts(self) -> dict[str, int]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT state, COUNT(*) FROM remediate_notes GROUP BY state")
        return {str(r[0]): int(r[1]) for r in rows}

    async def postpone(self, seqs: list[int], error: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE remediate_outbox SET attempts = attempts + 1, last_error = $1"
                " WHERE seq = ANY($2::bigint[])",
                error[:2000],
                seqs,
            )

    async def counts(self) -> dict[str, int]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT state, COUNT(*) FROM remediate_outbox GROUP BY state")
        found = dict.fromkeys(STATES, 0)
        found.update({str(r[0]): int(r[1]) for r in rows})
        return found

    async def prune(self, before: float) -> int:
        async with self._pool.acquire() as conn:
            status = await conn.execute(
                "DELETE FROM remediate_outbox WHERE state != 'pending' AND done_at < $1", before
            )
            await conn.execute(
                "DELETE FROM remediate_notes WHERE state != 'pending' AND done_at < $1", before
            )
        return int(str(status).rsplit(" ", 1)[-1])


def open_outbox(url: str | None, sqlite_path: Path) -> Outbox:
    if url and url.startswith(("postgresql://", "postgresql+asyncpg://", "postgres://")):
        return PostgresOutbox(url)
    if url and url.startswith("sqlite:///"):
        return SQLiteOutbox(Path(url.removeprefix("sqlite:///")))
    if url:
        raise ValueError("REMEDIATE_OUTBOX_URL: expected a postgresql:// or sqlite:/// URL")
    return SQLiteOutbox(sqlite_path)
