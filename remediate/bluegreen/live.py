"""Read a service's live color (over SSH or HTTP), parse it strictly, and pick the switch
action.

The command prints, or the URL answers, one line, ``<color> <went-live time>``: one of
the catalog's colors and when it went live (Unix seconds or RFC 3339). Anything else
refuses the reading: the output comes from the host or the proxy and is untrusted.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime

import asyncssh
import httpx

from remediate.actions.config import ActionParameterError, RunbookAction
from remediate.bluegreen.config import BlueGreen
from remediate.bluegreen.models import LiveColor, LiveRead
from remediate.catalog import Service
from remediate.evidence.config import EvidenceLimits, SSHHost
from remediate.evidence.ssh_connect import (
    CredentialError,
    KeyLoader,
    connect,
    describe_ssh_error,
    load_client_key,
)
from remediate.rollback.ssh_releases import ReleaseError, parse_time

OUTPUT_LIMIT = 1_000
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


class LiveColorError(ValueError):
    """The live color cannot be used; the message says why."""


def parse_live(output: str, blue_green: BlueGreen) -> LiveColor:
    if len(output) > OUTPUT_LIMIT:
        raise LiveColorError(f"the output is longer than {OUTPUT_LIMIT} characters")
    lines = [line for line in output.split("\n") if line != ""]
    if len(lines) != 1:
        raise LiveColorError(f"expected one line '<color> <time>', got {len(lines)}")
    line = lines[0]
    if not _PRINTABLE.match(line):
        raise LiveColorError(f"control or non-ASCII characters in {line[:80]!r}")
    fields = line.split(" ")
    if len(fields) != 2:
        raise LiveColorError(f"expected '<color> <time>', got {line[:80]!r}")
    color, at = fields
    if color not in blue_green.colors:
        raise LiveColorError(f"color {color[:80]!r} is not one of {sorted(blue_green.colors)}")
    try:
        since = parse_time(at, "the live color")
    except ReleaseError as exc:
        raise LiveColorError(str(exc)) from None
    return LiveColor(color=color, since=since)


def live_host(service: Service, blue_green: BlueGreen) -> SSHHost:
    if blue_green.host is None:
        return service.hosts[0]
    return next(h for h in service.hosts if h.name == blue_green.host)


def _parsed(where: LiveRead, raw: bytes, blue_green: BlueGreen) -> LiveRead:
    try:
        live = parse_live(raw.decode("utf-8", errors="strict"), blue_green)
    except UnicodeDecodeError:
        return where.model_copy(update={"error": "the output is not UTF-8"})
    except LiveColorError as exc:
        return where.model_copy(update={"error": f"live color refused: {exc}"})
    return where.model_copy(update={"live": live})


async def read_live_url(blue_green: BlueGreen, url: str) -> LiveRead:
    """GET ``url`` (no redirects, no proxy from the environment); 200 and a body as above."""
    where = LiveRead(host=url, via="http")
    try:
        async with (
            httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=blue_green.timeout_s
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                return where.model_copy(update={"error": f"HTTP {response.status_code}"})
            raw = b""
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) > OUTPUT_LIMIT:
                    break
    except httpx.HTTPError as exc:
        return where.model_copy(update={"error": f"{type(exc).__name__}: {exc}"[:300]})
    return _parsed(where, raw, blue_green)


async def read_live(
    service: Service,
    blue_green: BlueGreen,
    limits: EvidenceLimits,
    load_key: KeyLoader = load_client_key,
) -> LiveRead:
    if blue_green.live_url is not None:
        return await read_live_url(blue_green, str(blue_green.live_url))
    if blue_green.live is None:
        raise ValueError(f"service {service.name}: blue_green has neither live nor live_url")
    host = live_host(service, blue_green)
    try:
        conn = await connect(host, limits, load_key)
        async with conn:
            result = await conn.run(
                shlex.join(blue_green.live),
                check=False,
                timeout=blue_green.timeout_s,
                stdin=None,
                encoding=None,
            )
    except asyncssh.TimeoutError:
        return LiveRead(
            host=host.name, error=f"the reading did not finish within {blue_green.timeout_s:g} s"
        )
    except (CredentialError, TimeoutError, asyncssh.Error, OSError) as exc:
        return LiveRead(host=host.name, error=describe_ssh_error(exc))
    if result.exit_status != 0:
        return LiveRead(host=host.name, error=f"the reading exited {result.exit_status}")
    raw = result.stdout if isinstance(result.stdout, bytes) else b""
    return _parsed(LiveRead(host=host.name), raw, blue_green)


def within_window(live: LiveColor, fired_at: datetime, window_s: float) -> bool:
    """The alert fired after the live color went live, at most ``window_s`` later."""
    elapsed = (fired_at - live.since).total_seconds()
    return 0 <= elapsed <= window_s


def switch_action(service: Service, blue_green: BlueGreen, live: str) -> RunbookAction:
    """The action switching to the other color, with switching back to ``live`` as its undo;
    its parameters (defaults only) are checked like any value."""
    target = blue_green.other(live)
    action = service.action(blue_green.colors[target])
    back = service.action(blue_green.colors[live])
    if action is None or back is None:
        raise ActionParameterError(f"the switch actions of {service.name} are not in the catalog")
    bound = action.model_copy(update={"undo": back.name})
    bound.arguments()
    back.arguments()
    return bound
