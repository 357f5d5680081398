"""Find the GitHub token: an environment variable or a Prefect Secret block."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from remediate.catalog import TrackerConfig
from remediate.trackers.errors import TrackerConfigError


@dataclass(frozen=True)
class GitHubToken:
    value: SecretStr
    source: str


def _from_block(name: str) -> GitHubToken:
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(name, _sync=True)  # type: ignore[call-arg]
    except ValueError as exc:
        raise TrackerConfigError(
            f"tracker.token_block: no Prefect Secret block named {name!r} ({exc})"
        ) from None
    if not isinstance(block, Secret):
        raise TrackerConfigError(f"tracker.token_block: block {name!r} is not a Secret block")
    value = block.get()
    if not isinstance(value, str) or not value.strip():
        raise TrackerConfigError(f"tracker.token_block: Secret block {name!r} holds no token text")
    return GitHubToken(SecretStr(value.strip()), f"Prefect Secret block {name!r}")


def resolve_token(
    config: TrackerConfig, environ: Mapping[str, str] | None = None
) -> GitHubToken | None:
    """The configured Secret block wins; otherwise the environment variable, if set."""
    if config.token_block:
        return _from_block(config.token_block)
    value = (os.environ if environ is None else environ).get(config.token_env, "").strip()
    if value:
        return GitHubToken(SecretStr(value), f"environment variable {config.token_env}")
    return None
