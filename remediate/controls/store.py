"""Silences, stored beside the gateway outbox: in its SQLite file by default, in its
PostgreSQL database when the outbox is there. Nothing is deleted: an expired silence stays
listed, so history shows what was silenced and when."""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from remediate.controls.silences import Silence
from remediate.storage import AdvisoryLock, PostgresLocation, SchemaPool, SQLiteLocation, locate

SQLITE_SELECT = (
    "SELECT id, service, check_pattern, reason, created_by, starts_at, ends_at, expired_at"
    " FROM silences"
)
POSTGRES_SELECT = (
    "SELECT id, service, check_pattern, reason, created_by, starts_at, ends_at, expired_at"
    " FROM remediate_silences"
)

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY,
    service TEXT,
    check_pattern TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    expired_at REAL
);
CREATE INDEX IF NOT EXISTS silences_ends ON silences(ends_at);
"""

POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS remediate_silences (
    id TEXT PRIMARY KEY,
    service TEXT,
    check_pattern TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    starts_at DOUBLE PRECISION NOT NULL,
    ends_at DOUBLE PRECISION NOT NULL,
    expired_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS remediate_silences_ends ON remediate_silences(ends_at);
"""


def _silence(row: tuple[Any, ...]) -> Silence:
    keys = ("id", "service", "check", "reason", "created_by", "starts_at", "ends_at", "expired_at")
    return Silence.model_validate(dict(zip(keys, row, strict=True)))


def _values(s: Silence) -> tuple[Any, ...]:
    return (s.id, s.service, s.check, s.reason, s.created_by, s.starts_at, s.ends_at, s.expired_at)


class SilenceStore(ABC):
    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def add(self, silence: Silence) -> None: ...

    @abstractmethod
    async def listing(self, since: float) -> list[Silence]:
        """Silences that had not ended by ``since``, plus every one ending later, oldest first."""

    @abstractmethod
    async def expire(self, silence_id: str, at: float) -> Silence | None:
        """End a silence at ``at``; None when no silence has that id. Expiring one that has
        already ended changes nothing."""


class SQLiteSilences(SilenceStore):
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA busy_timeout=10000")
        return db

    async def _run(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        def work() -> list[tuple[Any, ...]]:
            db = self._connect()
            try:
                return db.execute(sql, parameters).fetchall()
            finally:
                db.close()

        return await asyncio.to_thread(work)

    async def open(self) -> None:
        def create() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = self._connect()
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SQLITE_SCHEMA)
            finally:
                db.close()

        await asyncio.to_thread(create)

    async def close(self) -> None:
        return None

    async def add(self, silence: Silence) -> None:
        await self._run("INSERT INTO silences VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _values(silence))

    async def listing(self, since: float) -> list[Silence]:
        rows = await self._run(
            SQLITE_SELECT + " WHERE ends_at > ? AND"
            " (expired_at IS NULL OR expired_at > ?) ORDER BY starts_at, id",
            (since, since),
        )
        return [_silence(row) for row in rows]

    async def expire(self, silence_id: str, at: float) -> Silence | None:
        await self._run(
            "UPDATE silences SET expired_at = ? WHERE id = ? AND expired_at IS NULL"
            " AND ends_at > ?",
            (at, silence_id, at),
        )
        rows = await self._run(SQLITE_SELECT + " WHERE id = ?", (silence_id,))
        return _silence(rows[0]) if rows else None


class PostgresSilences(SilenceStore):
    def __init__(self, url: str) -> None:
        self._pool = SchemaPool(url, POSTGRES_SCHEMA, AdvisoryLock.SILENCES_SCHEMA, max_size=2)

    async def _fetch(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        async with self._pool.acquire() as conn:
            return [tuple(row) for row in await conn.fetch(sql, *parameters)]

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    async def add(self, silence: Silence) -> None:
        await self._fetch(
            "INSERT INTO remediate_silences VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            *_values(silence),
        )

    async def listing(self, since: float) -> list[Silence]:
        rows = await self._fetch(
            POSTGRES_SELECT + " WHERE ends_at > $1 AND"
            " (expired_at IS NULL OR expired_at > $1) ORDER BY starts_at, id",
            since,
        )
        return [_silence(row) for row in rows]

    async def expire(self, silence_id: str, at: float) -> Silence | None:
        await self._fetch(
            "UPDATE remediate_silences SET expired_at = $1 WHERE id = $2"
            " AND expired_at IS NULL AND ends_at > $1",
            at,
            silence_id,
        )
        found = await self._fetch(POSTGRES_SELECT + " WHERE id = $1", silence_id)
        return _silence(found[0]) if found else None


def open_silences(url: str | None, sqlite_path: Path) -> SilenceStore:
    """The store beside the outbox ``url`` names (its SQLite file ``sqlite_path`` by default)."""
    match locate(url, sqlite_path):
        case PostgresLocation(url=postgres_url):
            return PostgresSilences(postgres_url)
        case SQLiteLocation(path=path):
            return SQLiteSilences(path)
