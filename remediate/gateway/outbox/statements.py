"""What both backends' SQL has in common."""

from __future__ import annotations

from typing import Any

from .records import State

ERROR_LIMIT = 2000

# Finished rows past retention lose their alert but keep their delivery key: the key is
# what recognises a replayed delivery (a Grafana body signed without a timestamp can be
# replayed at any time), so it is kept as long as the run's idempotency key, for good.
COMPACT_SQLITE = (
    "UPDATE outbox SET alert = '', last_error = NULL"
    " WHERE state NOT IN ('pending', 'held') AND alert != '' AND done_at < ?"
)
COMPACT_POSTGRES = (
    "UPDATE remediate_outbox SET alert = '', last_error = NULL"
    " WHERE state NOT IN ('pending', 'held') AND alert != '' AND done_at < $1"
)


def state_counts(rows: list[Any]) -> dict[str, int]:
    """Every state's count (0 where none), from ``(state, count)`` rows."""
    found = {state.value: 0 for state in State}
    found.update({str(state): int(count) for state, count in rows})
    return found
