"""One verified SSH connection to a catalog host: its pinned host key, its private key, a
bounded login. No agent, no user config, public-key authentication only."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncssh

from remediate.evidence.config import EvidenceLimits, SSHHost

MAX_ERROR_TEXT = 500

KeyLoader = Callable[[SSHHost], Awaitable[asyncssh.SSHKey]]


class CredentialError(Exception):
    """The private key for a host cannot be loaded; the message names the host and source."""


async def load_client_key(host: SSHHost) -> asyncssh.SSHKey:
    """The host's private key from its file or its Prefect Secret block; never logged."""
    path = host.private_key_path
    if path is not None:
        try:
            return asyncssh.read_private_key(str(path))
        except OSError as exc:
            raise CredentialError(
                f"host {host.name}: cannot read private_key {path}: {exc.strerror or exc}"
            ) from None
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise CredentialError(
                f"host {host.name}: private_key {path} is not a usable key: {exc}"
            ) from None
    from prefect.blocks.system import Secret

    name = host.private_key_block or ""
    try:
        block = cast("Secret[Any]", await Secret.aload(name))
        value = block.get()
    except (ValueError, RuntimeError) as exc:
        raise CredentialError(
            f"host {host.name}: cannot load Secret block {name!r}: {type(exc).__name__}"
        ) from None
    text = value if isinstance(value, str) else str(value)
    try:
        return asyncssh.import_private_key(text)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise CredentialError(
            f"host {host.name}: Secret block {name!r} does not hold a usable key: {exc}"
        ) from None


def trusted_keys(host: SSHHost) -> asyncssh.SSHKnownHosts:
    if host.host_key is not None:
        return asyncssh.import_known_hosts(f"* {host.host_key}\n")
    path = host.known_hosts_path
    assert path is not None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialError(
            f"host {host.name}: cannot read known_hosts {path}: {exc.strerror or exc}"
        ) from None
    try:
        return asyncssh.import_known_hosts(text)
    except ValueError as exc:
        raise CredentialError(f"host {host.name}: known_hosts {path} is invalid: {exc}") from None


async def connect(
    host: SSHHost, limits: EvidenceLimits, load_key: KeyLoader = load_client_key
) -> asyncssh.SSHClientConnection:
    """Raises ``CredentialError``, ``TimeoutError``, ``asyncssh.Error`` or ``OSError``."""
    trusted = trusted_keys(host)
    key = await load_key(host)
    async with asyncio.timeout(limits.connect_timeout_s):
        conn = await asyncssh.connect(
            host.address,
            host.port,
            username=host.user,
            known_hosts=trusted,
            client_keys=[key],
            agent_path=None,
            config=[],
            preferred_auth="publickey",
            connect_timeout=limits.connect_timeout_s,
            login_timeout=limits.connect_timeout_s,
        )
    return conn


def describe_ssh_error(exc: BaseException) -> str:
    """A short, secret-free description of a failed SSH connection or command."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return f"host key not trusted: {exc.reason}"[:MAX_ERROR_TEXT]
    if isinstance(exc, asyncssh.DisconnectError):
        return exc.reason[:MAX_ERROR_TEXT] or type(exc).__name__
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc) or type(exc).__name__
    return text[:MAX_ERROR_TEXT]
