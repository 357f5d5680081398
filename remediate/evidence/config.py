"""Catalog entries for evidence: the hosts of a service, its log sources and collection limits.

Every value here ends up in a remote command line or a connection setting, so each is
checked against a narrow pattern; alert fields never take part in either.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from pathlib import Path
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
_HOSTNAME_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _local_path(value: str, field: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"{field} must not contain control characters")
    if not (value.startswith("/") or value.startswith("~/")):
        raise ValueError(f"{field} must be an absolute path or start with ~/, got {value!r}")
    return value


def remote_path(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("path must not contain control characters")
    if not value.startswith("/"):
        raise ValueError(f"path must be absolute, got {value!r}")
    if posixpath.normpath(value) != value or "/../" in f"{value}/":
        raise ValueError(f"path must be normalised (no '..', '//' or trailing '/'), got {value!r}")
    return value


def validate_address(value: str) -> str:
    """An IP address or a DNS host name, nothing that could pass for an option or a URL."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if not all(_HOSTNAME_LABEL.match(label) for label in labels):
        raise ValueError(f"address must be an IP address or a host name, got {value!r}")
    return value


class SSHHost(_Strict):
    """One machine of a service, reached over SSH with a verified host key."""

    name: str = Field(pattern=NAME_PATTERN)
    address: str = Field(min_length=1, max_length=253)
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(pattern=r"^[a-z_][a-z0-9_.-]{0,31}$")
    known_hosts: str | None = Field(
        default=None, description="known_hosts file holding this host's key."
    )
    host_key: str | None = Field(
        default=None, description="This host's public key, e.g. 'ssh-ed25519 AAAA...'."
    )
    private_key: str | None = Field(default=None, description="Private key file for the login.")
    private_key_block: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Name of a Prefect Secret block holding the private key.",
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return validate_address(value)

    @field_validator("known_hosts", "private_key")
    @classmethod
    def _paths(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _local_path(value, info.field_name or "path")

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import asyncssh

        try:
            asyncssh.import_public_key(value.strip())
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise ValueError(f"host_key is not an OpenSSH public key: {exc}") from None
        return value.strip()

    @model_validator(mode="after")
    def _sources(self) -> Self:
        if (self.known_hosts is None) == (self.host_key is None):
            raise ValueError(f"host {self.name}: set exactly one of known_hosts or host_key")
        if (self.private_key is None) == (self.private_key_block is None):
            raise ValueError(
                f"host {self.name}: set exactly one of private_key or private_key_block"
            )
        return self

    @property
    def known_hosts_path(self) -> Path | None:
        return Path(self.known_hosts).expanduser() if self.known_hosts else None

    @property
    def private_key_path(self) -> Path | None:
        return Path(self.private_key).expanduser() if self.private_key else None

    @property
    def endpoint(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"


LogKind = Literal["container", "systemd", "file", "custom"]


class LogSource(_Strict):
    """One log to read on each of the service's hosts (or the hosts named)."""

    name: str = Field(pattern=NAME_PATTERN)
    kind: LogKind
    container: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    unit: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@:][A-Za-z0-9_.@:\\-]{0,255}$")
    path: str | None = None
    command: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Name of a command in evidence.commands."
    )
    lines: int = Field(default=200, ge=1, le=10_000)
    since_minutes: int = Field(default=60, ge=1, le=10_080)
    hosts: list[str] = Field(
        default_factory=list, description="Host names to read it on; all hosts when empty."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else remote_path(value)

    @model_validator(mode="after")
    def _target(self) -> Self:
        wanted = {"container": "container", "systemd": "unit", "file": "path", "custom": "command"}
        needed = wanted[self.kind]
        for kind, field in wanted.items():
            present = getattr(self, field) is not None
            if kind == self.kind and not present:
                raise ValueError(f"log {self.name}: kind {self.kind} needs {needed}")
            if kind != self.kind and present:
                raise ValueError(f"log {self.name}: {field} does not apply to kind {self.kind}")
        return self


class EvidenceLimits(_Strict):
    max_bytes: int = Field(default=65_536, ge=1_024, le=10_485_760, description="Per source.")
    max_lines: int = Field(default=500, ge=1, le=100_000, description="Per source.")
    max_line_chars: int = Field(default=2_000, ge=80, le=100_000)
    stderr_max_bytes: int = Field(default=4_096, ge=256, le=1_048_576)
    read_factor: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Stop reading after max_bytes * read_factor bytes; the tail is kept.",
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)
    command_timeout_s: float = Field(default=30.0, gt=0, le=3_600)
    per_host_concurrency: int = Field(default=2, ge=1, le=32)


class RedactionPattern(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$", description="The marker's kind.")
    pattern: str = Field(min_length=1, max_length=1_000)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if compiled.match(""):
            raise ValueError("pattern matches the empty string")
        return value


class EvidenceConfig(_Strict):
    limits: EvidenceLimits = EvidenceLimits()
    commands: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Named commands for custom log sources, as argument lists.",
    )
    redact: list[RedactionPattern] = Field(default_factory=list)

    @field_validator("commands")
    @classmethod
    def _commands(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, argv in value.items():
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"command name {name!r} must match {NAME_PATTERN}")
            if not argv or not argv[0]:
                raise ValueError(f"command {name}: needs at least a program name")
            if any(_CONTROL.search(arg) for arg in argv):
                raise ValueError(f"command {name}: arguments must not contain control characters")
        return value


def check_service_evidence(
    service: str, hosts: list[SSHHost], logs: list[LogSource], evidence: EvidenceConfig
) -> None:
    """Cross-checks between a service's hosts, its logs and the named commands."""
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        raise ValueError(f"service {service}: host names must be unique")
    sources = [s.name for s in logs]
    if len(set(sources)) != len(sources):
        raise ValueError(f"service {service}: log names must be unique")
    for source in logs:
        unknown = [h for h in source.hosts if h not in names]
        if unknown:
            raise ValueError(
                f"service {service}: log {source.name}: unknown host(s) {', '.join(unknown)}"
            )
        if source.command is not None and source.command not in evidence.commands:
            raise ValueError(
                f"service {service}: log {source.name}: command {source.command!r}"
                " is not in evidence.commands"
            )
    if logs and not hosts:
        raise ValueError(f"service {service}: logs need at least one host")
