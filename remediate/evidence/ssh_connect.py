"""One verified SSH connection to a catalog host: its pinned host key, its private key, a
bounded login. No agent, no user config, public-key authentication only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncssh

from remediate.evidence.config import EvidenceLimits, SSHHost

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
