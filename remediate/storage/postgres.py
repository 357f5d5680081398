"""PostgreSQL connection pools whose schema is created once, under an advisory lock."""

from __future__ import annotations

from typing import Any

from remediate.storage.locks import AdvisoryLock


def asyncpg_url(url: str) -> str:
    """The URL without SQLAlchemy's driver suffix, which asyncpg does not accept."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def load_asyncpg() -> Any:
    import asyncpg  # type: ignore[import-untyped]

    return asyncpg


async def open_pool(url: str, max_size: int, schema: str, lock: AdvisoryLock) -> Any:
    """A pool on ``url`` after ``schema`` has run; concurrent starters wait on ``lock``."""
    pool = await load_asyncpg().create_pool(url, min_size=1, max_size=max_size)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", int(lock))
            try:
                await conn.execute(schema)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", int(lock))
    except BaseException:
        await pool.close()
        raise
    return pool
