"""What an investigation produced: the recorded tool calls and the checked analysis."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolCall(_Frozen):
    """One tool call of the session: its validated input and its redacted answer."""

    id: str = Field(description="call-<n>, the name the model cites it by")
    tool: str
    input: dict[str, Any] = Field(default_factory=dict)
    refused: bool = False
    ok: bool = True
    output: str = ""


class Quote(_Frozen):
    source: str = Field(description="A call id (call-3) or a collected log (log:<host>/<source>)")
    text: str
    verified: bool = False


NextStepKind = Literal["action", "repository-fix", "human-check"]


class NextStep(_Frozen):
    kind: NextStepKind
    action: str | None = None
    parameters: dict[str, str | int] = Field(
        default_factory=dict, description="Values for the action's parameters, checked"
    )
    description: str = ""
    refused: str = Field(
        default="", description="Why the model's parameters were refused (then nothing is proposed)"
    )


class Hypothesis(_Frozen):
    statement: str
    confidence: float = Field(ge=0, le=1)
    quotes: list[Quote] = Field(default_factory=list)
    confirm: str = ""
    refute: str = ""
    action: str | None = Field(default=None, description="A catalog action of the service")
    supported: bool = False


class InvestigationStatus(StrEnum):
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"


class Investigation(_Frozen):
    status: InvestigationStatus
    reason: str = ""
    summary: str = ""
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    next_step: NextStep | None = None
    calls: list[ToolCall] = Field(default_factory=list)
    turns: int = 0
    duration_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model: str = ""

    @property
    def top(self) -> Hypothesis | None:
        """The best supported hypothesis, if any."""
        return next((h for h in self.hypotheses if h.supported), None)

    @property
    def refused_calls(self) -> list[ToolCall]:
        return [c for c in self.calls if c.refused]

    @property
    def suggested_action(self) -> str | None:
        """A catalog action the analysis proposes (the next step's, else the top hypothesis's),
        only when at least one hypothesis is supported by the recorded evidence."""
        top = self.top
        if top is None:
            return None
        if self.next_step is not None and self.next_step.kind == "action":
            return None if self.next_step.refused else self.next_step.action
        return top.action

    @property
    def suggested_parameters(self) -> dict[str, str | int]:
        """The checked parameter values for ``suggested_action`` the model gave (the
        catalog's defaults stand for the others)."""
        step = self.next_step
        if self.suggested_action is None or step is None or step.kind != "action":
            return {}
        return dict(step.parameters)


def skipped(reason: str) -> Investigation:
    return Investigation(status=InvestigationStatus.SKIPPED, reason=reason)
