"""The PostgreSQL outbox, shared by several gateways of which one (the leader) delivers."""

from __future__ import annotations

import asyncio
from typing import Any

from remediate.storage import AdvisoryLock, SchemaPool, load_asyncpg

from .base import STALE_CLAIM_S, Outbox
from .records import Entry, Note, NoteState, Outcome, Remediation, Row
from .statements import COMPACT_POSTGRES, ERROR_LIMIT, state_counts

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
CREATE TABLE IF NOT EXISTS remediate_handled (
    key TEXT PRIMARY KEY,
    claimed_at DOUBLE PRECISION NOT NULL,
    done BOOLEAN NOT NULL DEFAULT FALSE
);
"""

PENDING_ROWS = (
    "SELECT seq, delivery_key, fingerprint, status, alert, received_at, attempts"
    " FROM remediate_outbox WHERE state = 'pending' ORDER BY seq LIMIT $1"
)
HELD_ROWS = (
    "SELECT seq, delivery_key, fingerprint, status, alert, received_at, attempts"
    " FROM remediate_outbox WHERE state = 'held' ORDER BY seq LIMIT $1"
)


class PostgresOutbox(Outbox):
    def __init__(self, url: str) -> None:
        super().__init__()
        asyncpg = load_asyncpg()
        self.unavailable = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
        self._pool = SchemaPool(url, POSTGRES_SCHEMA, AdvisoryLock.OUTBOX_SCHEMA, max_size=4)
        self._leader: Any = None
        self._leading = False
        self._leader_guard = asyncio.Lock()

    async def lead(self) -> bool:
        # Delivery and the notes loop both ask; one session must hold the lock, or a second
        # connection made by the other caller would replace it and, once the first is
        # collected, another gateway could lead too.
        async with self._leader_guard:
            if self._leader is None or self._leader.is_closed():
                self._leading = False
                self._leader = await load_asyncpg().connect(self._pool.url)
            if not self._leading:
                self._leading = bool(
                    await self._leader.fetchval(
                        "SELECT pg_try_advisory_lock($1)", int(AdvisoryLock.OUTBOX_LEADER)
                    )
                )
            return self._leading

    @property
    def leading(self) -> bool:
        return self._leading and self._leader is not None and not self._leader.is_closed()

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        if self._leader is not None:
            await self._leader.close()
            self._leader = None
            self._leading = False
        await self._pool.close()

    async def _fetch(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        async with self._pool.acquire() as conn:
            return [tuple(row) for row in await conn.fetch(sql, *parameters)]

    async def _execute(self, sql: str, *parameters: Any) -> str:
        async with self._pool.acquire() as conn:
            return str(await conn.execute(sql, *parameters))

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
        return [Row(*row) for row in await self._fetch(PENDING_ROWS, limit)]

    async def held(self, limit: int) -> list[Row]:
        return [Row(*row) for row in await self._fetch(HELD_ROWS, limit)]

    async def _remediation_rows(self, fingerprints: list[str]) -> list[tuple[Any, ...]]:
        return await self._fetch(
            "SELECT fingerprint, flow_run_id, opened_at, occurrences, last_seen, resolved_at,"
            " flapping FROM remediate_remediations WHERE fingerprint = ANY($1::text[])",
            fingerprints,
        )

    async def _history_rows(self, fingerprints: list[str], since: float) -> list[tuple[Any, ...]]:
        return await self._fetch(
            "SELECT seq, fingerprint, status, state, received_at FROM remediate_outbox"
            " WHERE fingerprint = ANY($1::text[]) AND received_at > $2"
            " AND state != 'pending' ORDER BY seq",
            fingerprints,
            since,
        )

    async def starts_since(self, since: float) -> list[float]:
        rows = await self._fetch(
            "SELECT done_at FROM remediate_outbox WHERE started_run AND done_at > $1"
            " ORDER BY done_at",
            since,
        )
        return [float(r[0]) for r in rows]

    async def _commit(
        self, outcomes: list[Outcome], remediations: list[Remediation], notes: list[Note]
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
                [r.values() for r in remediations],
            )
            if notes:
                await conn.executemany(
                    "INSERT INTO remediate_notes"
                    " (key, fingerprint, flow_run_id, service, text, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
                    [n.values() for n in notes],
                )

    async def due_notes(self, now: float, limit: int, horizon_s: float) -> list[Note]:
        rows = await self._fetch(
            "SELECT key, fingerprint, flow_run_id, service, text, created_at, attempts"
            " FROM remediate_notes WHERE state = 'pending' AND (next_at <= $1 OR next_at > $2)"
            " ORDER BY created_at LIMIT $3",
            now,
            now + horizon_s,
            limit,
        )
        return [Note(*row) for row in rows]

    async def finish_note(self, key: str, state: NoteState, issue: int | None, now: float) -> None:
        await self._execute(
            "UPDATE remediate_notes SET state = $1, issue = $2, done_at = $3 WHERE key = $4",
            state,
            issue,
            now,
            key,
        )

    async def retry_note(self, key: str, next_at: float, error: str) -> None:
        await self._execute(
            "UPDATE remediate_notes SET attempts = attempts + 1, next_at = $1,"
            " last_error = $2 WHERE key = $3",
            next_at,
            error[:ERROR_LIMIT],
            key,
        )

    async def note_counts(self) -> dict[str, int]:
        rows = await self._fetch("SELECT state, COUNT(*) FROM remediate_notes GROUP BY state")
        return {str(state): int(count) for state, count in rows}

    async def claim(self, key: str, now: float) -> bool:
        status = await self._execute(
            "INSERT INTO remediate_handled (key, claimed_at) VALUES ($1, $2)"
            " ON CONFLICT (key) DO UPDATE SET claimed_at = EXCLUDED.claimed_at"
            " WHERE NOT remediate_handled.done AND remediate_handled.claimed_at < $3",
            key,
            now,
            now - STALE_CLAIM_S,
        )
        return status.endswith(" 1")

    async def finish(self, key: str) -> None:
        await self._execute("UPDATE remediate_handled SET done = TRUE WHERE key = $1", key)

    async def release(self, key: str) -> None:
        await self._execute("DELETE FROM remediate_handled WHERE key = $1", key)

    async def postpone(self, seqs: list[int], error: str) -> None:
        await self._execute(
            "UPDATE remediate_outbox SET attempts = attempts + 1, last_error = $1"
            " WHERE seq = ANY($2::bigint[])",
            error[:ERROR_LIMIT],
            seqs,
        )

    async def counts(self) -> dict[str, int]:
        return state_counts(
            await self._fetch("SELECT state, COUNT(*) FROM remediate_outbox GROUP BY state")
        )

    async def prune(self, before: float) -> int:
        async with self._pool.acquire() as conn:
            status = await conn.execute(COMPACT_POSTGRES, before)
            await conn.execute(
                "DELETE FROM remediate_notes WHERE state != 'pending' AND done_at < $1", before
            )
            await conn.execute("DELETE FROM remediate_handled WHERE claimed_at < $1", before)
        return int(str(status).rsplit(" ", 1)[-1])
