"""Metric samples in SQLite in the data directory."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from remediate.capacity.collect import Sample

SCHEMA = """
CREATE TABLE IF NOT EXISTS metric_samples (
    service TEXT NOT NULL,
    metric TEXT NOT NULL,
    host TEXT NOT NULL,
    at REAL NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (service, metric, host, at)
)
"""


class SampleStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._connect() as db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def add(self, service: str, samples: list[Sample]) -> int:
        rows = [
            (service, s.metric, s.host, s.at.timestamp(), s.value)
            for s in samples
            if s.value is not None
        ]
        with self._connect() as db:
            db.executemany("INSERT OR IGNORE INTO metric_samples VALUES (?, ?, ?, ?, ?)", rows)
        return len(rows)

    def series(
        self, service: str, metric: str, host: str, since: datetime
    ) -> list[tuple[datetime, float]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT at, value FROM metric_samples"
                " WHERE service = ? AND metric = ? AND host = ? AND at >= ? ORDER BY at",
                (service, metric, host, since.timestamp()),
            ).fetchall()
        return [(datetime.fromtimestamp(at, UTC), float(value)) for at, value in rows]
