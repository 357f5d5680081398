"""The database a ``REMEDIATE_OUTBOX_URL`` names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

POSTGRES_PREFIXES = ("postgresql://", "postgresql+asyncpg://", "postgres://")
SQLITE_PREFIX = "sqlite:///"


@dataclass(frozen=True)
class SQLiteLocation:
    path: Path


@dataclass(frozen=True)
class PostgresLocation:
    url: str


def locate(url: str | None, default: Path) -> SQLiteLocation | PostgresLocation:
    """PostgreSQL for a ``postgresql://`` URL, the file of a ``sqlite:///`` URL, else
    ``default``."""
    if url and url.startswith(POSTGRES_PREFIXES):
        return PostgresLocation(url)
    if url and url.startswith(SQLITE_PREFIX):
        return SQLiteLocation(Path(url.removeprefix(SQLITE_PREFIX)))
    if url:
        raise ValueError("REMEDIATE_OUTBOX_URL: expected a postgresql:// or sqlite:/// URL")
    return SQLiteLocation(default)
