"""Releases read from a host, the rollback decision, and what became of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from remediate.actions.models import ActionOutcome, ActionStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Release(_Frozen):
    id: str
    created_at: datetime


class ReleaseListing(_Frozen):
    """Releases oldest first; ``current`` is one of them, live since ``deployed_at``."""

    releases: list[Release]
    current: str
    deployed_at: datetime

    def previous(self) -> Release | None:
        """The release created before the current one (not the one deployed before it)."""
        ids = [r.id for r in self.releases]
        index = ids.index(self.current)
        return self.releases[index - 1] if index > 0 else None


class ReleaseRead(_Frozen):
    """A listing, or the reason there is none (unreachable host, refused output).

    ``host`` is the SSH host read on, or for GitHub ``<owner>/<repo> environment <name>``.
    """

    host: str
    via: Literal["ssh", "github"] = "ssh"
    listing: ReleaseListing | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        return f"host {self.host}" if self.via == "ssh" else f"GitHub deployments of {self.host}"


class RollbackStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    NOT_RUN = "not-run"
    BLOCKED = "blocked"
    NOT_PROPOSED = "not-proposed"
    UNREADABLE = "unreadable"
    REFUSED = "refused"


def rollback_status(action: ActionStatus) -> RollbackStatus:
    if action is ActionStatus.SUCCEEDED:
        return RollbackStatus.SUCCEEDED
    if action is ActionStatus.REJECTED:
        return RollbackStatus.REJECTED
    if action is ActionStatus.NOT_RUN:
        return RollbackStatus.NOT_RUN
    return RollbackStatus.FAILED


class RollbackOutcome(_Frozen):
    service: str
    status: RollbackStatus
    reason: str
    window_s: float
    fired_at: datetime
    read: ReleaseRead
    previous: str | None = None
    blocked_by: str | None = None
    action: ActionOutcome | None = None

    @property
    def proposed(self) -> bool:
        return self.action is not None
