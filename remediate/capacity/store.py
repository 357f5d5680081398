"""Metric samples and action proposals in the gateway outbox's database.

PostgreSQL when ``REMEDIATE_OUTBOX_URL`` is a ``postgresql://`` URL (the same database as
the gateway outbox), the SQLite file of a ``sqlite:///`` URL, else ``capacity.sqlite3`` in
the data directory. Both backends store times as epoch seconds in double precision, so
the same samples give the same series, and the same forecast, from either.
"""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from remediate.capacity.collect import Sample
from remediate.storage import (
    AdvisoryLock,
    PostgresLocation,
    SchemaPool,
    SQLiteLocation,
    locate,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS remediate_metric_samples (
    service TEXT NOT NULL,
    metric TEXT NOT NULL,
    host TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (service, metric, host, at)
);
CREATE TABLE IF NOT EXISTS remediate_capacity_proposals (
    key TEXT PRIMARY KEY,
    flow_run_id TEXT NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL,
    status TEXT
);
"""

Series = list[tuple[datetime, float]]
Row = tuple[str, str, str, float, float]


def _rows(service: str, samples: list[Sample]) -> list[Row]:
    return [
        (service, s.metric, s.host, s.at.timestamp(), s.value)
        for s in samples
        if s.value is not None
    ]


def _series(rows: list[Any]) -> Series:
    return [(datetime.fromtimestamp(float(at), UTC), float(value)) for at, value in rows]


class SampleStore(ABC):
    """Use as ``async with open_sample_store(...) as store``."""

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def add(self, service: str, samples: list[Sample]) -> int:
        """Store the samples that have a value; a sample already stored is kept once."""

    @abstractmethod
    async def series(self, service: str, metric: str, host: str, since: datetime) -> Series: ...

    @abstractmethod
    async def claim(self, key: str, flow_run_id: str, now: datetime) -> tuple[str, str | None]:
        """Record that ``flow_run_id`` proposes under ``key`` unless a run already did.

        Returns the run that holds the claim and the status it recorded (None while open).
        """

    @abstractmethod
    async def finish(self, key: str, status: str) -> None: ...

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class SQLiteSampleStore(SampleStore):
    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _run(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        db = self._connect()
        try:
            with db:
                return db.execute(sql, parameters).fetchall()
        finally:
            db.close()

    async def open(self) -> None:
        def create() -> None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = self._connect()
            try:
                db.executescript(SCHEMA)
            finally:
                db.close()

        await asyncio.to_thread(create)

    async def close(self) -> None:
        return None

    async def add(self, service: str, samples: list[Sample]) -> int:
        rows = _rows(service, samples)

        def insert() -> None:
            db = self._connect()
            try:
                with db:
                    db.executemany(
                        "INSERT OR IGNORE INTO remediate_metric_samples VALUES (?, ?, ?, ?, ?)",
                        rows,
                    )
            finally:
                db.close()

        await asyncio.to_thread(insert)
        return len(rows)

    async def series(self, service: str, metric: str, host: str, since: datetime) -> Series:
        rows = await asyncio.to_thread(
            self._run,
            "SELECT at, value FROM remediate_metric_samples"
            " WHERE service = ? AND metric = ? AND host = ? AND at >= ? ORDER BY at",
            (service, metric, host, since.timestamp()),
        )
        return _series(rows)

    async def claim(self, key: str, flow_run_id: str, now: datetime) -> tuple[str, str | None]:
        await asyncio.to_thread(
            self._run,
            "INSERT OR IGNORE INTO remediate_capacity_proposals VALUES (?, ?, ?, NULL)",
            (key, flow_run_id, now.timestamp()),
        )
        [(owner, status)] = await asyncio.to_thread(
            self._run,
            "SELECT flow_run_id, status FROM remediate_capacity_proposals WHERE key = ?",
            (key,),
        )
        return str(owner), status

    async def finish(self, key: str, status: str) -> None:
        await asyncio.to_thread(
            self._run,
            "UPDATE remediate_capacity_proposals SET status = ? WHERE key = ?",
            (status, key),
        )


class PostgresSampleStore(SampleStore):
    def __init__(self, url: str) -> None:
        self._pool = SchemaPool(url, SCHEMA, AdvisoryLock.CAPACITY_SCHEMA, max_size=2)

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    async def add(self, service: str, samples: list[Sample]) -> int:
        rows = _rows(service, samples)
        async with self._pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO remediate_metric_samples VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT DO NOTHING",
                rows,
            )
        return len(rows)

    async def series(self, service: str, metric: str, host: str, since: datetime) -> Series:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT at, value FROM remediate_metric_samples"
                " WHERE service = $1 AND metric = $2 AND host = $3 AND at >= $4 ORDER BY at",
                service,
                metric,
                host,
                since.timestamp(),
            )
        return _series([tuple(r) for r in rows])

    async def claim(self, key: str, flow_run_id: str, now: datetime) -> tuple[str, str | None]:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO remediate_capacity_proposals VALUES ($1, $2, $3, NULL)"
                " ON CONFLICT (key) DO NOTHING",
                key,
                flow_run_id,
                now.timestamp(),
            )
            row = await conn.fetchrow(
                "SELECT flow_run_id, status FROM remediate_capacity_proposals WHERE key = $1",
                key,
            )
        return str(row[0]), row[1]

    async def finish(self, key: str, status: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE remediate_capacity_proposals SET status = $1 WHERE key = $2", status, key
            )


def open_sample_store(url: str | None, data_dir: Path) -> SampleStore:
    """The backend ``REMEDIATE_OUTBOX_URL`` names, as the gateway outbox chooses it."""
    match locate(url, data_dir / "capacity.sqlite3"):
        case PostgresLocation(url=postgres_url):
            return PostgresSampleStore(postgres_url)
        case SQLiteLocation(path=path):
            return SQLiteSampleStore(path)
