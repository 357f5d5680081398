"""What a runbook action proposed, who decided, what ran, and whether health came back."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from remediate.approval.record import DecisionRecord


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class HostRun(_Frozen):
    host: str
    endpoint: str
    command: str
    exit_status: int | None = None
    output: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_status == 0


class HttpCallRun(_Frozen):
    request: str
    status_code: int | None = None
    expected_status: list[int]
    output: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code in self.expected_status


class ActionRun(_Frozen):
    action: str
    hosts: list[HostRun] = []
    http: HttpCallRun | None = None

    @property
    def ok(self) -> bool:
        if self.http is not None:
            return self.http.ok
        return bool(self.hosts) and all(h.ok for h in self.hosts)

    @property
    def failure(self) -> str:
        """Where it failed, for the record; empty when it did not."""
        if self.ok:
            return ""
        if self.http is not None:
            got = self.http.error or f"HTTP {self.http.status_code}"
            expected = ", ".join(str(code) for code in self.http.expected_status)
            return f"the HTTP call failed: {got} (expected {expected})"
        if not self.hosts:
            return "no host ran it"
        return f"the action failed on host {self.hosts[-1].host}"


class HealthCheck(_Frozen):
    healthy: bool
    detail: list[str]


class ActionProposal(_Frozen):
    service: str
    action: str
    description: str
    risk: Literal["low", "medium", "high"]
    parameters: dict[str, str]
    hosts: list[str]
    command: str
    unattended: bool
    undo: str | None
    healthy_within_s: float
    kind: Literal["ssh", "http"] = "ssh"
    headers: list[str] = []
    body: str | None = None
    expected_status: list[int] = []
    suggested_by: str = ""


class ActionStatus(StrEnum):
    SUCCEEDED = "succeeded"
    UNDONE = "failed-undone"
    UNDO_FAILED = "failed-undo-failed"
    FAILED = "failed-no-undo"
    REJECTED = "rejected"
    NOT_RUN = "not-run"


Gate = Literal["approved", "rejected", "unattended", "unavailable", "dry-run"]


class ActionOutcome(_Frozen):
    proposal: ActionProposal
    gate: Gate
    status: ActionStatus
    decision: DecisionRecord | None = None
    reason: str = ""
    run: ActionRun | None = None
    health: HealthCheck | None = None
    undo: ActionRun | None = None
    health_after_undo: HealthCheck | None = None
