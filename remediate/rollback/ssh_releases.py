"""Read a service's releases over SSH, parse them strictly, and decide on a rollback.

The listing command prints one line per release, ``<release-id> <created-at>``, and one
line ``current <release-id> <deployed-at>``. Times are Unix seconds or RFC 3339 with an
offset. Fields are separated by one space. Anything else (an extra field, a release id
outside the pattern, a duplicate, two ``current`` lines) refuses the whole listing:
release ids come from the host and are untrusted.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime

import asyncssh

from remediate.actions.config import ActionParameterError, RunbookAction
from remediate.catalog import Service
from remediate.evidence.config import EvidenceLimits, SSHHost
from remediate.evidence.ssh_connect import (
    CredentialError,
    KeyLoader,
    connect,
    describe_ssh_error,
    load_client_key,
)
from remediate.rollback.config import ReleaseSource
from remediate.rollback.models import Release, ReleaseListing, ReleaseRead

OUTPUT_LIMIT = 64_000
MAX_RELEASES = 1_000
_EPOCH = re.compile(r"^[0-9]{1,12}$")
_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


class ReleaseError(ValueError):
    """The listing cannot be used; the message names the line and the problem."""


def _shown(text: str) -> str:
    return repr(text[:80])


def parse_time(text: str, where: str) -> datetime:
    if _EPOCH.match(text):
        return datetime.fromtimestamp(int(text), UTC)
    if _RFC3339.match(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    raise ReleaseError(f"{where}: time {_shown(text)} is neither Unix seconds nor RFC 3339")


def parse_listing(output: str, source: ReleaseSource) -> ReleaseListing:
    if len(output) > OUTPUT_LIMIT:
        raise ReleaseError(f"the listing is longer than {OUTPUT_LIMIT} characters")
    releases: list[Release] = []
    current: tuple[str, datetime] | None = None
    for number, line in enumerate(output.split("\n"), start=1):
        where = f"line {number}"
        if line == "":
            continue
        if not _PRINTABLE.match(line):
            raise ReleaseError(f"{where}: control or non-ASCII characters in {_shown(line)}")
        fields = line.split(" ")
        is_current = fields[0] == "current"
        if len(fields) != (3 if is_current else 2):
            raise ReleaseError(
                f"{where}: expected '<release> <time>' or 'current <release> <time>',"
                f" got {_shown(line)}"
            )
        release, at = fields[-2], fields[-1]
        if release == "current" or not source.release_ok(release):
            raise ReleaseError(
                f"{where}: release id {_shown(release)} does not match"
                f" {source.release_pattern!r} or has unsafe characters"
            )
        when = parse_time(at, where)
        if is_current:
            if current is not None:
                raise ReleaseError(f"{where}: a second 'current' line")
            current = (release, when)
        else:
            if any(r.id == release for r in releases):
                raise ReleaseError(f"{where}: release {release} is listed twice")
            releases.append(Release(id=release, created_at=when))
        if len(releases) > MAX_RELEASES:
            raise ReleaseError(f"more than {MAX_RELEASES} releases listed")
    if current is None:
        raise ReleaseError("no 'current <release> <time>' line")
    if not any(r.id == current[0] for r in releases):
        raise ReleaseError(f"the current release {current[0]} is not among the releases listed")
    ordered = sorted(releases, key=lambda r: r.created_at)
    return ReleaseListing(releases=ordered, current=current[0], deployed_at=current[1])


def release_host(service: Service, source: ReleaseSource) -> SSHHost:
    if source.host is None:
        return service.hosts[0]
    return next(h for h in service.hosts if h.name == source.host)


async def read_releases(
    service: Service,
    source: ReleaseSource,
    limits: EvidenceLimits,
    load_key: KeyLoader = load_client_key,
) -> ReleaseRead:
    host = release_host(service, source)
    if source.command is None:
        return ReleaseRead(host=host.name, error="the releases section has no command")
    command = shlex.join(source.command)
    try:
        conn = await connect(host, limits, load_key)
        async with conn:
            result = await conn.run(
                command, check=False, timeout=source.timeout_s, stdin=None, encoding=None
            )
    except asyncssh.TimeoutError:
        return ReleaseRead(
            host=host.name, error=f"the listing did not finish within {source.timeout_s:g} s"
        )
    except (CredentialError, TimeoutError, asyncssh.Error, OSError) as exc:
        return ReleaseRead(host=host.name, error=describe_ssh_error(exc))
    if result.exit_status != 0:
        return ReleaseRead(host=host.name, error=f"the listing exited {result.exit_status}")
    raw = result.stdout if isinstance(result.stdout, bytes) else b""
    try:
        listing = parse_listing(raw.decode("utf-8", errors="strict"), source)
    except UnicodeDecodeError:
        return ReleaseRead(host=host.name, error="the listing is not UTF-8")
    except ReleaseError as exc:
        return ReleaseRead(host=host.name, error=f"listing refused: {exc}")
    return ReleaseRead(host=host.name, listing=listing)


def within_window(listing: ReleaseListing, fired_at: datetime, window_s: float) -> bool:
    """The alert fired after the current release went live, at most ``window_s`` later."""
    elapsed = (fired_at - listing.deployed_at).total_seconds()
    return 0 <= elapsed <= window_s


def rollback_action(service: Service, source: ReleaseSource, release: str) -> RunbookAction:
    """The rollback action with ``release`` as its parameter value, checked like any value."""
    action = service.action(source.action)
    if action is None:
        raise ActionParameterError(f"action {source.action} is not an action of {service.name}")
    parameters = []
    for parameter in action.parameters:
        if parameter.name == source.parameter:
            try:
                parameter.check(release)
            except ActionParameterError as exc:
                raise ActionParameterError(f"action {action.name}: {exc}") from None
            parameter = parameter.model_copy(update={"default": release})
        parameters.append(parameter.model_dump())
    bound = RunbookAction.model_validate(action.model_dump() | {"parameters": parameters})
    bound.arguments()
    return bound
