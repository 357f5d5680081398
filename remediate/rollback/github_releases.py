"""Read a service's current and previous release from GitHub Deployments.

The newest deployments of one environment are read, newest first. The current release is
the newest deployment whose latest status is ``success``; it went live when that status was
created. The previous release is the newest older deployment that once reached ``success``
(GitHub marks it ``inactive`` when a newer one succeeds) with a different release id; it
went live at its newest ``success``. Failed, pending and never-successful deployments are
skipped. The release id is the deployment's ``ref`` or ``sha`` (``github.release``); it
comes from GitHub and is untrusted: it must match ``release_pattern`` and have no unsafe
characters, else the read is refused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from datetime import UTC, datetime
from itertools import islice

import requests
from github import Auth, Consts, Github, GithubException
from github.Deployment import Deployment
from github.GithubException import BadCredentialsException, UnknownObjectException

from remediate.catalog import Repository, Service, TrackerConfig
from remediate.rollback.config import GitHubDeployments, ReleaseSource
from remediate.rollback.models import Release, ReleaseListing, ReleaseRead
from remediate.rollback.ssh_releases import ReleaseError
from remediate.trackers.errors import TrackerConfigError
from remediate.trackers.github import ClientSettings
from remediate.trackers.token import GitHubToken, resolve_token

MAX_STATUSES = 100


@dataclasses.dataclass(frozen=True)
class _Live:
    release: str
    since: datetime


def _shown(text: str) -> str:
    return repr(text[:80])


def _release_id(deployment: Deployment, settings: GitHubDeployments) -> str:
    value = deployment.sha if settings.release == "sha" else deployment.ref
    return value if isinstance(value, str) else ""


def _checked(deployment: Deployment, source: ReleaseSource, settings: GitHubDeployments) -> str:
    release = _release_id(deployment, settings)
    if not source.release_ok(release):
        raise ReleaseError(
            f"deployment {deployment.id}: release id {_shown(release)} ({settings.release})"
            f" does not match {source.release_pattern!r} or has unsafe characters"
        )
    return release


def listing_from(
    deployments: list[Deployment], source: ReleaseSource, settings: GitHubDeployments
) -> ReleaseListing:
    ordered = sorted(deployments, key=lambda d: (d.created_at, d.id), reverse=True)
    current: _Live | None = None
    previous: _Live | None = None
    for deployment in ordered:
        if deployment.environment != settings.environment:
            continue
        statuses = sorted(
            islice(deployment.get_statuses(), MAX_STATUSES),
            key=lambda s: (s.created_at, s.id),
            reverse=True,
        )
        succeeded = [s.created_at.astimezone(UTC) for s in statuses if s.state == "success"]
        if current is None:
            if statuses and statuses[0].state == "success":
                current = _Live(_checked(deployment, source, settings), succeeded[0])
            continue
        if succeeded and _release_id(deployment, settings) != current.release:
            previous = _Live(_checked(deployment, source, settings), succeeded[0])
            break
    if current is None:
        raise ReleaseError(
            f"no deployment to {settings.environment!r} among the newest"
            f" {settings.max_deployments} has a latest status of success"
        )
    releases = [Release(id=current.release, created_at=current.since)]
    if previous is not None:
        releases.insert(0, Release(id=previous.release, created_at=previous.since))
    return ReleaseListing(releases=releases, current=current.release, deployed_at=current.since)


def _failure(exc: Exception, token: GitHubToken, where: str) -> str:
    if isinstance(exc, BadCredentialsException):
        return f"GitHub refused the token from {token.source} reading {where}"
    if isinstance(exc, UnknownObjectException):
        return (
            f"GitHub answered 404 reading {where}: the repository does not exist or the token"
            f" from {token.source} cannot see it"
        )
    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        message = data.get("message")
        text = str(message)[:300] if isinstance(message, str) else "no message"
        return f"GitHub failed reading {where}: {exc.status} {text}"
    return f"GitHub API unreachable reading {where}: {type(exc).__name__}"


def _read(
    repository: Repository,
    source: ReleaseSource,
    settings: GitHubDeployments,
    token: GitHubToken,
    client: ClientSettings,
) -> ReleaseListing | str:
    base_url = (
        str(repository.api_base_url).rstrip("/")
        if repository.api_base_url is not None
        else Consts.DEFAULT_BASE_URL
    )
    github = Github(
        base_url=base_url,
        auth=Auth.Token(token.value.get_secret_value()),
        retry=client.retry,
        timeout=client.timeout,
        seconds_between_requests=client.seconds_between_requests,
        seconds_between_writes=client.seconds_between_writes,
        per_page=min(100, settings.max_deployments),
    )
    where = f"the deployments of {repository.full_name} at {base_url}"
    try:
        repo = github.get_repo(repository.full_name)
        found = list(
            islice(repo.get_deployments(environment=settings.environment), settings.max_deployments)
        )
        return listing_from(found, source, settings)
    except ReleaseError as exc:
        return f"deployments refused: {exc}"
    except (GithubException, requests.RequestException) as exc:
        return _failure(exc, token, where)
    finally:
        github.close()


async def read_github_releases(
    repository: Repository,
    source: ReleaseSource,
    token: GitHubToken,
    client: ClientSettings | None = None,
) -> ReleaseRead:
    settings = source.github
    if settings is None:
        raise ValueError("the releases section does not read GitHub deployments")
    where = f"{repository.full_name} environment {settings.environment}"
    chosen = client or ClientSettings()
    chosen = dataclasses.replace(chosen, timeout=max(1, math.ceil(source.timeout_s)))
    result = await asyncio.to_thread(_read, repository, source, settings, token, chosen)
    if isinstance(result, str):
        return ReleaseRead(host=where, via="github", error=result)
    return ReleaseRead(host=where, via="github", listing=result)


async def read_service_deployments(
    service: Service, source: ReleaseSource, tracker: TrackerConfig
) -> ReleaseRead:
    """The service's deployments, with the token found as for the GitHub tracker."""
    settings = source.github
    if service.repository is None or settings is None:
        raise ValueError(f"service {service.name} does not read releases from GitHub")
    where = f"{service.repository.full_name} environment {settings.environment}"
    try:
        token = resolve_token(tracker)
    except TrackerConfigError as exc:
        return ReleaseRead(host=where, via="github", error=str(exc))
    if token is None:
        return ReleaseRead(
            host=where,
            via="github",
            error=f"no GitHub token: set the environment variable {tracker.token_env}"
            " or name a Prefect Secret block in tracker.token_block",
        )
    return await read_github_releases(service.repository, source, token)
