"""What a runbook action proposed, who decided, what ran, and whether health came back."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


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


class ActionRun(_Frozen):
    action: str
    hosts: list[HostRun]

    @property
    def ok(self) -> bool:
        return bool(self.hosts) and all(h.ok for h in self.hosts)


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


class ActionStatus(StrEnum):
    SUCCEEDED = "succeeded"
    UNDONE = "failed-undone"
    UNDO_FAILED = "failed-undo-failed"
    FAILED = "failed-no-undo"
    REJECTED = "rejected"
    NOT_RUN = "not-run"


Gate = Literal["approved", "rejected", "unattended", "unavailable"]


class ActionOutcome(_Frozen):
    proposal: ActionProposal
    gate: Gate
    status: ActionStatus
    approver: str | None = None
    comment: str = ""
    reason: str = ""
    run: ActionRun | None = None
    health: HealthCheck | None = None
    undo: ActionRun | None = None
    health_after_undo: HealthCheck | None = None
