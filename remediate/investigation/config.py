"""The catalog section of the investigation session: model, credential and limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class InvestigationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    model: str = Field(default="claude-sonnet-4-5", min_length=1, max_length=100)
    credential_env: str = Field(default="ANTHROPIC_API_KEY", pattern=r"^[A-Z_][A-Z0-9_]*$")
    max_turns: int = Field(default=15, ge=2, le=200)
    max_budget_usd: float = Field(default=0.5, gt=0, le=100)
    timeout_s: float = Field(default=300.0, gt=0, le=3_600)
    max_calls: int = Field(
        default=20, ge=1, le=200, description="Tool calls answered; later calls are refused."
    )
    max_log_lines: int = Field(
        default=500, ge=1, le=10_000, description="Most lines one read_log call may ask for."
    )
    max_output_chars: int = Field(
        default=8_000, ge=500, le=200_000, description="Most characters one tool answer holds."
    )
    max_range_minutes: int = Field(
        default=1_440, ge=1, le=43_200, description="Longest metric range one call may ask for."
    )
    max_range_points: int = Field(
        default=120, ge=2, le=11_000, description="Most points per series a metric range holds."
    )
    max_commits: int = Field(
        default=20, ge=1, le=200, description="Most recent commits one call may list."
    )
