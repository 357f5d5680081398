"""Issue trackers: ``local`` files by default, ``github`` when a repository and token exist."""

from __future__ import annotations

from datetime import timedelta

from remediate.catalog import Catalog, Service
from remediate.settings import Settings
from remediate.trackers.base import IssueDraft, Tracker
from remediate.trackers.errors import TrackerConfigError, TrackerError
from remediate.trackers.github import GitHubTracker
from remediate.trackers.local import LocalTracker
from remediate.trackers.token import resolve_token

__all__ = [
    "GitHubTracker",
    "IssueDraft",
    "LocalTracker",
    "Tracker",
    "TrackerConfigError",
    "TrackerError",
    "make_tracker",
]


def make_tracker(catalog: Catalog, service: Service | None, settings: Settings) -> Tracker:
    """``local``: files; ``github``: the service's repository, or an error naming what is
    missing; ``auto``: GitHub when the service has a repository and a token exists."""
    config = catalog.tracker
    window = timedelta(hours=config.reopen_window_hours)
    local = LocalTracker(
        settings.data_dir / "issues", reopen_window=window, web_base=settings.issues_url
    )
    if config.kind == "local":
        return local
    repository = service.repository if service is not None else None
    if repository is None:
        if config.kind == "github":
            owner = f"service {service.name!r}" if service is not None else "the alert's service"
            raise TrackerConfigError(
                f"tracker.kind is github but {owner} has no repository in the catalog"
                " (services[].repository)"
            )
        return local
    token = resolve_token(config)
    if token is None:
        if config.kind == "github":
            raise TrackerConfigError(
                f"tracker.kind is github but no GitHub token: set the environment variable"
                f" {config.token_env} or name a Prefect Secret block in tracker.token_block"
            )
        return local
    return GitHubTracker(repository, token, reopen_window=window)
