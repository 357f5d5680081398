"""The live color read from a host, the switch decision, and what became of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from remediate.actions.models import ActionOutcome, ActionStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LiveColor(_Frozen):
    color: str
    since: datetime


class LiveRead(_Frozen):
    """The live color read on ``host`` (an SSH host's name, or the URL), or the reason
    there is none."""

    host: str
    via: Literal["ssh", "http"] = "ssh"
    live: LiveColor | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        return f"host {self.host}" if self.via == "ssh" else self.host


class SwitchStatus(StrEnum):
    SUCCEEDED = "succeeded"
    SWITCHED_BACK = "switched-back"
    FAILED = "failed"
    REJECTED = "rejected"
    NOT_RUN = "not-run"
    NOT_PROPOSED = "not-proposed"
    UNREADABLE = "unreadable"
    REFUSED = "refused"
    BLOCKED = "blocked"


def switch_status(action: ActionStatus) -> SwitchStatus:
    """``switched-back``: the post-condition failed, the switch back ran and health returned."""
    return {
        ActionStatus.SUCCEEDED: SwitchStatus.SUCCEEDED,
        ActionStatus.UNDONE: SwitchStatus.SWITCHED_BACK,
        ActionStatus.REJECTED: SwitchStatus.REJECTED,
        ActionStatus.NOT_RUN: SwitchStatus.NOT_RUN,
    }.get(action, SwitchStatus.FAILED)


class SwitchOutcome(_Frozen):
    service: str
    status: SwitchStatus
    reason: str
    window_s: float
    fired_at: datetime
    read: LiveRead
    target: str | None = None
    blocked_by: str | None = None
    action: ActionOutcome | None = None

    @property
    def proposed(self) -> bool:
        return self.action is not None
