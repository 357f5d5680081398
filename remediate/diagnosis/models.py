"""What verification and diagnosis found: probe results, dependency checks, the verdict."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Verdict(StrEnum):
    CONFIRMED = "confirmed"
    RECOVERED = "recovered"
    UNVERIFIABLE = "unverifiable"


class ProbeFailure(StrEnum):
    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    HTTP_STATUS = "http_status"
    PROTOCOL = "protocol"
    CONTENT = "content"


class ProbeResult(_Frozen):
    service: str
    endpoint: str
    url: str
    healthy: bool
    status_code: int | None = None
    expected_status: int
    latency_ms: float
    failure: ProbeFailure | None = None
    error: str | None = None
    checked_at: AwareDatetime


class Verification(_Frozen):
    verdict: Verdict
    reason: str
    attempts: list[list[ProbeResult]] = Field(default_factory=list)

    @property
    def last_probes(self) -> list[ProbeResult]:
        return self.attempts[-1] if self.attempts else []


class ServiceHealth(_Frozen):
    service: str
    healthy: bool
    probes: list[ProbeResult]


class CheckKind(StrEnum):
    TCP = "tcp"
    DNS = "dns"
    TLS = "tls"


class DependencyCheck(_Frozen):
    """One deeper check: a TCP connect, a DNS lookup or a certificate's expiry."""

    service: str
    kind: CheckKind
    name: str
    target: str
    ok: bool
    slow: bool = False
    latency_ms: float | None = None
    detail: str = ""
    error: str | None = None
    warning: str | None = None
    checked_at: AwareDatetime


class Diagnosis(_Frozen):
    services: list[ServiceHealth]
    checks: list[DependencyCheck] = Field(default_factory=list)

    @property
    def down(self) -> list[DependencyCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def slow(self) -> list[DependencyCheck]:
        return [c for c in self.checks if c.ok and c.slow]

    @property
    def failures_in_order(self) -> list[tuple[datetime, str]]:
        """Every failed probe and check, earliest first, as (time, description)."""
        found = [
            (
                p.checked_at,
                f"{p.service} {p.endpoint}: {p.failure.value if p.failure else 'unhealthy'}",
            )
            for s in self.services
            for p in s.probes
            if not p.healthy
        ]
        found += [
            (c.checked_at, f"{c.service} {c.kind.value} {c.name}: {c.error or 'failed'}")
            for c in self.down
        ]
        return sorted(found, key=lambda item: item[0])

    @property
    def failing(self) -> list[str]:
        return [s.service for s in self.services if not s.healthy]

    @property
    def summary(self) -> str:
        failing = self.failing
        if not self.services:
            return "no services in the catalog to probe"
        if not failing:
            return f"all {len(self.services)} catalog services answer healthy"
        return f"{len(failing)} of {len(self.services)} services unhealthy: {', '.join(failing)}"
