"""Logs collected from a service's hosts, one result per source."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LogFailure(StrEnum):
    HOST_KEY = "host-key"
    AUTH = "auth"
    CREDENTIALS = "credentials"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    SSH = "ssh"


class LogSourceResult(_Frozen):
    """What one log source on one host gave; redacted before it is built."""

    host: str
    endpoint: str = Field(description="user@address:port")
    source: str
    kind: str
    command: str
    exit_status: int | None = None
    exit_signal: str | None = None
    lines: list[str] = Field(default_factory=list)
    stderr: str = ""
    truncated: bool = False
    duration_ms: float
    failure: LogFailure | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.exit_status == 0


class LogBundle(_Frozen):
    service: str
    sources: list[LogSourceResult] = Field(default_factory=list)
    collected_at: AwareDatetime
    duration_ms: float

    @property
    def failed(self) -> list[LogSourceResult]:
        return [s for s in self.sources if not s.ok]

    @property
    def summary(self) -> str:
        hosts = len({s.host for s in self.sources})
        text = f"{len(self.sources)} log source(s) on {hosts} host(s)"
        failed = self.failed
        if failed:
            text += f", {len(failed)} failed"
        return text
