"""Ad hoc silences, and the one question the gateway asks: is this alert suppressed?"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from remediate.controls.config import NAME_PATTERN, ControlsConfig, covers
from remediate.markdown import inline

MAX_SILENCE_S = 30 * 86400


class Silence(BaseModel):
    """Alerts of ``service`` (any service when None) whose check id matches ``check``, received
    from ``starts_at`` until ``ends_at`` (or until expired by hand), start no action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[0-9a-f]{12}$")
    service: str | None = Field(default=None, pattern=NAME_PATTERN)
    check: str = Field(default="*", min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=500)
    created_by: str = Field(min_length=1, max_length=100)
    starts_at: float
    ends_at: float
    expired_at: float | None = None

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(6)

    def active_at(self, at: float) -> bool:
        end = self.ends_at if self.expired_at is None else min(self.ends_at, self.expired_at)
        return self.starts_at <= at < end

    def covers(self, service: str | None, check_id: str) -> bool:
        return covers([self.service] if self.service else [], [self.check], service, check_id)


class SuppressionKind(StrEnum):
    MAINTENANCE = "maintenance"
    SILENCE = "silence"


@dataclass(frozen=True)
class Suppression:
    kind: SuppressionKind
    name: str
    """The maintenance window's name or the silence's id."""
    reason: str

    @property
    def label(self) -> str:
        """``maintenance.<name>`` or ``silence.<id>``: what the run's ``silence:`` tag holds."""
        return f"{self.kind.value}.{self.name}"


def suppression_for(
    service: str | None,
    check_id: str,
    at: float,
    controls: ControlsConfig,
    silences: Iterable[Silence],
) -> Suppression | None:
    """The maintenance window or silence covering an alert received at ``at``; windows first."""
    window = controls.window_for(service, check_id, at)
    if window is not None:
        return Suppression(SuppressionKind.MAINTENANCE, window.name, window.reason)
    for silence in silences:
        if silence.active_at(at) and silence.covers(service, check_id):
            return Suppression(SuppressionKind.SILENCE, silence.id, silence.reason)
    return None


def silenced_note(label: str, controls: ControlsConfig) -> str:
    """What the issue says about an alert received inside the window or silence ``label``."""
    kind, _, name = label.partition(".")
    if kind == SuppressionKind.MAINTENANCE:
        window = next((w for w in controls.maintenance if w.name == name), None)
        where = f"maintenance window {inline(name, 100)}"
        if window is not None:
            where += f" ({window.cron}, {window.duration_s:g} s: {inline(window.reason, 500)})"
    else:
        where = f"silence {inline(name, 100)} (`remediate silence list --all` shows its reason)"
    return (
        f"**Silenced.** This alert arrived inside {where}. It is recorded here and in the run"
        " history, but no investigation, fix proposal or runbook action was started for it."
    )
