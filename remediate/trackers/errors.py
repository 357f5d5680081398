"""Errors a tracker raises; messages name what is wrong and never carry a secret."""

from __future__ import annotations


class TrackerError(RuntimeError):
    """The tracker could not read or write an issue."""


class TrackerConfigError(ValueError):
    """The catalog asks for a tracker that cannot be built (missing repository or token)."""
