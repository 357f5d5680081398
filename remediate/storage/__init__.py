"""Where the gateway outbox and the capacity samples live: SQLite or PostgreSQL.

It chooses the backend from ``REMEDIATE_OUTBOX_URL``, names the PostgreSQL advisory locks
and creates schemas under a lock. It holds no tables and runs no queries of its own.
"""

from remediate.storage.location import PostgresLocation, SQLiteLocation, locate
from remediate.storage.locks import AdvisoryLock
from remediate.storage.postgres import SchemaPool, load_asyncpg

__all__ = [
    "AdvisoryLock",
    "PostgresLocation",
    "SQLiteLocation",
    "SchemaPool",
    "load_asyncpg",
    "locate",
]
