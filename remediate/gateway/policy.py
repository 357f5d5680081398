"""The ``gateway:`` section of the catalog."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GatewayPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_per_minute: int = Field(
        default=10,
        ge=1,
        le=100_000,
        description="New remediation runs started per minute at most; alerts over the cap "
        "wait in the outbox in arrival order.",
    )
