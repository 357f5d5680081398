"""What both backends' SQL has in common."""

from __future__ import annotations

from typing import Any

from .records import State

ERROR_LIMIT = 2000


def state_counts(rows: list[Any]) -> dict[str, int]:
    """Every state's count (0 where none), from ``(state, count)`` rows."""
    found = {state.value: 0 for state in State}
    found.update({str(state): int(count) for state, count in rows})
    return found
