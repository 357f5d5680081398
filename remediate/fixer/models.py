"""What a fix proposal produced and where it was published (decisions: `approval/record.py`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FixStatus(StrEnum):
    PROPOSED = "proposed"
    NO_FIX = "no-fix"
    REFUSED = "refused"
    SKIPPED = "skipped"
    FAILED = "failed"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    UNKNOWN = "unknown"


class ToolDenial(BaseModel):
    model_config = ConfigDict(frozen=True)

    tool: str
    target: str
    reason: str


class FixProposal(BaseModel):
    """The outcome of one proposal session. ``diff`` always comes from git, never the model."""

    model_config = ConfigDict(frozen=True)

    status: FixStatus
    reason: str = ""
    summary: str = ""
    rationale: str = ""
    checked: str = ""
    risk: Risk = Risk.UNKNOWN
    branch: str | None = None
    base_commit: str | None = None
    files_changed: list[str] = Field(default_factory=list)
    diff: str = ""
    denials: list[ToolDenial] = Field(default_factory=list)
    sandbox: str = ""
    sandbox_violations: list[str] = Field(default_factory=list)
    turns: int = 0
    duration_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model: str | None = None

    @property
    def awaits_approval(self) -> bool:
        return self.status is FixStatus.PROPOSED


class PullRequestRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["github", "local"]
    number: int
    url: str
    branch: str
    commit: str
    created: bool


def skipped(reason: str) -> FixProposal:
    return FixProposal(status=FixStatus.SKIPPED, reason=reason)
