"""PostgreSQL connection pools whose schema is created once, under an advisory lock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from remediate.storage.locks import AdvisoryLock


def asyncpg_url(url: str) -> str:
    """The URL without SQLAlchemy's driver suffix, which asyncpg does not accept."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def load_asyncpg() -> Any:
    import asyncpg  # type: ignore[import-untyped]

    return asyncpg


@dataclass
class SchemaPool:
    """A pool on ``url`` that runs ``schema`` when opened; concurrent openers wait on
    ``lock``."""

    url: str
    schema: str
    lock: AdvisoryLock
    max_size: int
    _pool: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.url = asyncpg_url(self.url)

    async def open(self) -> None:
        pool = await load_asyncpg().create_pool(self.url, min_size=1, max_size=self.max_size)
        try:
            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_advisory_lock($1)", int(self.lock))
                try:
                    await conn.execute(self.schema)
                finally:
                    await conn.execute("SELECT pg_advisory_unlock($1)", int(self.lock))
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def acquire(self) -> Any:
        """``async with pool.acquire() as conn``: a connection, back to the pool after."""
        return self._pool.acquire()
