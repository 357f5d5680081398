"""The PostgreSQL advisory locks every remediate process takes, by name."""

from __future__ import annotations

from enum import IntEnum


class AdvisoryLock(IntEnum):
    OUTBOX_SCHEMA = 7243001
    OUTBOX_LEADER = 7243002
    CAPACITY_SCHEMA = 7243003
    SILENCES_SCHEMA = 7243004
