"""The automation pause (kill switch): a Prefect variable every run reads before it proposes
a fix, publishes one, or runs an action, and again after each approval."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect.client.orchestration import get_client
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PAUSE_VARIABLE = "remediate-automation-paused"


class Pause(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    by: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=500)
    since: datetime

    def describe(self) -> str:
        return f"paused by {self.by} since {self.since:%Y-%m-%d %H:%M:%S %Z}: {self.reason}"


def pause_of(value: Any) -> Pause:
    """The pause a variable holds; one set by other means still pauses, with what it says."""
    try:
        return Pause.model_validate(value)
    except ValidationError:
        text = str(value)[:200] or "(empty)"
        return Pause(by="unknown", reason=f"variable set by hand: {text}", since=datetime.now(UTC))


async def current_pause() -> Pause | None:
    """The pause in force, read from the Prefect API the current run uses."""
    async with get_client() as client:
        variable = await client.read_variable_by_name(PAUSE_VARIABLE)
    return pause_of(variable.value) if variable is not None else None
