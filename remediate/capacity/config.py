"""Catalog ``metrics:`` of a service: what to sample and when its trend is worth an issue."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from remediate.actions.config import ActionParameterError, ParameterValue, RunbookAction
from remediate.evidence.config import remote_path

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
PERCENT_KINDS = ("filesystem", "inodes", "memory")


class MetricAction(BaseModel):
    """A runbook action of the same service, proposed when the forecast is inside the horizon."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    parameters: dict[str, ParameterValue] = Field(
        default_factory=dict, description="Values for the action's parameters; defaults else."
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def bind(self, action: RunbookAction) -> RunbookAction:
        """``action`` whose parameter defaults are these values, checked like any default."""
        return action.bound(self.parameters)


class MetricSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["filesystem", "inodes", "memory", "path_size", "command", "prometheus"]
    path: str | None = Field(
        default=None, description="Remote path (filesystem, inodes, path_size)."
    )
    command: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="Name of a command in evidence.commands."
    )
    host: str | None = Field(default=None, description="Host name; default: the first host.")
    url: HttpUrl | None = Field(default=None, description="Prometheus base URL (prometheus).")
    query: str | None = Field(
        default=None, min_length=1, max_length=2000, description="PromQL instant query."
    )
    threshold: float = Field(gt=0, description="Percent for percentage kinds, else the value.")
    horizon_hours: float = Field(default=168.0, gt=0, le=24 * 365)
    window_hours: float = Field(default=72.0, gt=0, le=24 * 90)
    min_samples: int = Field(default=6, ge=3, le=10_000)
    action: MetricAction | None = Field(
        default=None, description="Runbook action of this service to propose (name or mapping)."
    )

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else remote_path(value)

    @model_validator(mode="after")
    def _targets(self) -> Self:
        needs_path = self.kind in ("filesystem", "inodes", "path_size")
        if needs_path and self.path is None:
            raise ValueError(f"metric {self.name}: kind {self.kind} needs path")
        if self.kind == "command" and self.command is None:
            raise ValueError(f"metric {self.name}: kind command needs command")
        if self.kind == "prometheus" and (self.url is None or self.query is None):
            raise ValueError(f"metric {self.name}: kind prometheus needs url and query")
        if self.kind == "prometheus" and self.host is not None:
            raise ValueError(
                f"metric {self.name}: kind prometheus is queried over HTTP, not a host"
            )
        if self.kind in PERCENT_KINDS and self.threshold > 100:
            raise ValueError(f"metric {self.name}: threshold is a percentage, at most 100")
        return self

    @property
    def over_ssh(self) -> bool:
        return self.kind != "prometheus"

    @property
    def unit(self) -> str:
        return "%" if self.kind in PERCENT_KINDS else ("bytes" if self.kind == "path_size" else "")


def check_service_metrics(
    service: str,
    hosts: list[str],
    metrics: list[MetricSpec],
    commands: dict[str, list[str]],
    actions: list[RunbookAction] | None = None,
) -> None:
    """Cross-checks between a service's metrics, its hosts and the named commands."""
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"service {service}: metric names must be unique")
    for metric in metrics:
        where = f"service {service}: metric {metric.name}"
        if metric.over_ssh and not hosts:
            raise ValueError(f"{where}: the service has no hosts to sample on")
        if metric.host is not None and metric.host not in hosts:
            raise ValueError(f"{where}: host {metric.host} is not one of the service's hosts")
        if metric.command is not None and metric.command not in commands:
            raise ValueError(f"{where}: command {metric.command} is not in evidence.commands")
        if metric.action is not None:
            action = next((a for a in actions or [] if a.name == metric.action.name), None)
            if action is None:
                raise ValueError(
                    f"{where}: action {metric.action.name} is not an action of this service"
                )
            try:
                metric.action.bind(action)
            except ActionParameterError as exc:
                raise ValueError(f"{where}: {exc}") from None
