"""Errors a tracker raises; messages name what is wrong and never carry a secret."""

from __future__ import annotations

from typing import Any


class TrackerError(RuntimeError):
    """The tracker could not read or write an issue. ``retriable`` is False when trying
    again cannot help (a refused token, a missing repository, a refused request)."""

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


class TrackerConfigError(ValueError):
    """The catalog asks for a tracker that cannot be built (missing repository or token)."""


def worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """A Prefect ``retry_condition_fn``: no retry for configuration or permanent errors."""
    error = getattr(state, "data", None)
    if isinstance(error, TrackerConfigError):
        return False
    if isinstance(error, TrackerError):
        return error.retriable
    return True
