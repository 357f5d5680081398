"""Issue trackers: ``local`` files by default, ``github`` when a repository and token exist."""

from __future__ import annotations

from datetime import timedelta

from remediate.catalog import Catalog, Service
from remediate.settings import Settings
from remediate.trackers.base import IssueDraft, Tracker
from remediate.trackers.local import LocalTracker

__all__ = ["IssueDraft", "LocalTracker", "Tracker", "make_tracker"]


def make_tracker(catalog: Catalog, service: Service | None, settings: Settings) -> Tracker:
    window = timedelta(hours=catalog.tracker.reopen_window_hours)
    return LocalTracker(settings.data_dir / "issues", reopen_window=window)
