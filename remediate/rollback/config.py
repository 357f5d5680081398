"""The ``releases`` section of a service: how to read its releases and how to roll back.

Releases are read from one of two sources. ``command``: an argument list of catalog
literals run over SSH on one of the service's hosts, its output parsed strictly (see
``remediate.rollback.ssh_releases``). ``github``: the GitHub Deployments of the service's
repository in
one environment (see ``remediate.rollback.github_releases``). The rollback
itself is a runbook action of the service; one of its parameters receives the previous
release id, which is checked like any parameter value before a command is built.
"""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from remediate.actions.config import NAME_PATTERN, PARAMETER_NAME, SAFE_VALUE, RunbookAction

DEFAULT_RELEASE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class GitHubDeployments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The deployment environment to read, e.g. production.",
    )
    release: Literal["ref", "sha"] = Field(
        default="ref", description="Which field of a deployment is the release id."
    )
    max_deployments: int = Field(
        default=50, ge=1, le=500, description="How many of the newest deployments are read."
    )


class ReleaseSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Argument list (catalog literals only) printing the releases, see docs.",
    )
    github: GitHubDeployments | None = Field(
        default=None, description="Read the GitHub Deployments of the service's repository."
    )
    host: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Host to read on; the first when unset."
    )
    timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="For the command, or each GitHub request."
    )
    window_s: float = Field(
        gt=0,
        le=7 * 86_400,
        description="Propose a rollback when the alert fires at most this long after a release.",
    )
    action: str = Field(pattern=NAME_PATTERN, description="The runbook action that rolls back.")
    parameter: str = Field(
        pattern=PARAMETER_NAME, description="Its parameter receiving the previous release id."
    )
    release_pattern: str = Field(
        default=DEFAULT_RELEASE_PATTERN,
        max_length=500,
        description="A release id read from the host must match it in full.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.command is None) == (self.github is None):
            raise ValueError("exactly one of command or github says how to read releases")
        if self.github is not None and self.host is not None:
            raise ValueError("host applies to command only, not to github")
        return self

    @field_validator("command")
    @classmethod
    def _literals(cls, value: list[str] | None) -> list[str] | None:
        for arg in value or []:
            if not arg or _CONTROL.search(arg) or "{" in arg or "}" in arg:
                raise ValueError(
                    f"list arguments are non-empty literals without braces or control"
                    f" characters, got {arg!r}"
                )
        return value

    @field_validator("release_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def release_ok(self, release: str) -> bool:
        return bool(SAFE_VALUE.match(release)) and bool(re.fullmatch(self.release_pattern, release))


def check_service_releases(
    service: str,
    hosts: list[str],
    actions: list[RunbookAction],
    releases: ReleaseSource | None,
    has_repository: bool = False,
) -> None:
    if releases is None:
        return
    where = f"service {service}: releases"
    if releases.github is not None and not has_repository:
        raise ValueError(f"{where}: github needs the service's repository")
    if releases.command is not None and not hosts:
        raise ValueError(f"{where}: needs at least one host")
    if releases.host is not None and releases.host not in hosts:
        raise ValueError(f"{where}: unknown host {releases.host}")
    action = next((a for a in actions if a.name == releases.action), None)
    if action is None:
        raise ValueError(f"{where}: action {releases.action!r} is not an action of this service")
    parameter = next((p for p in action.parameters if p.name == releases.parameter), None)
    if parameter is None:
        raise ValueError(f"{where}: action {action.name} has no parameter {releases.parameter!r}")
    if parameter.kind == "int":
        raise ValueError(f"{where}: parameter {parameter.name} must be a string or an enum")
    if action.suggested_by:
        raise ValueError(
            f"{where}: action {action.name} rolls back to a release read from the host;"
            " it cannot also be suggested by check ids"
        )
