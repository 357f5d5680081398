"""The ``blue_green`` section of a service: which color is live, how to switch to each.

The live color is read with an argument list of catalog literals run over SSH on one of
the service's hosts, or with a GET of a URL; either answers ``<color> <went-live time>``
(see ``remediate.bluegreen.live``). Switching to a color is a runbook action of the service
(SSH or HTTP), named per color; switching back is the other color's action, which
becomes the undo of the switch.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from remediate.actions.config import NAME_PATTERN, RunbookAction

COLOR_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BlueGreen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    live: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Argument list (catalog literals only) run over SSH, printing"
        " '<color> <went-live time>'.",
    )
    live_url: HttpUrl | None = Field(
        default=None, description="Or a URL whose GET answers '<color> <went-live time>'."
    )
    host: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="Host to run live on; the first when unset.",
    )
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    window_s: float = Field(
        gt=0,
        le=7 * 86_400,
        description="Propose a switch when the alert fires at most this long after the live "
        "color went live.",
    )
    colors: dict[str, str] = Field(
        description="The two colors, each with the runbook action switching traffic to it."
    )
    health: list[str] = Field(
        default_factory=list,
        description="Names of the service's health endpoints (through the proxy) the switch's "
        "post-condition verifies; all of them when empty.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.live is None) == (self.live_url is None):
            raise ValueError("exactly one of live or live_url says how to read the live color")
        if self.live_url is not None and self.host is not None:
            raise ValueError("host applies to live only, not to live_url")
        if self.live_url is not None and (self.live_url.username or self.live_url.password):
            raise ValueError("live_url must not hold credentials")
        return self

    @field_validator("live")
    @classmethod
    def _literals(cls, value: list[str] | None) -> list[str] | None:
        for arg in value or []:
            if not arg or _CONTROL.search(arg) or "{" in arg or "}" in arg:
                raise ValueError(
                    f"arguments are non-empty literals without braces or control"
                    f" characters, got {arg!r}"
                )
        return value

    @field_validator("colors")
    @classmethod
    def _two_colors(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) != 2:
            raise ValueError(f"exactly two colors, got {len(value)}")
        for color, action in value.items():
            if not re.match(COLOR_PATTERN, color):
                raise ValueError(f"color {color!r} does not match {COLOR_PATTERN}")
            if not re.match(NAME_PATTERN, action):
                raise ValueError(f"color {color}: action {action!r} is not an action name")
        if len(set(value.values())) != 2:
            raise ValueError("the two colors need two different actions")
        return value

    def verifies(self, health_endpoint: str) -> bool:
        """Whether the switch's post-condition probes this health endpoint of the service."""
        return not self.health or health_endpoint in self.health

    def other(self, color: str) -> str:
        return next(c for c in self.colors if c != color)


def check_service_blue_green(
    service: str,
    hosts: list[str],
    actions: list[RunbookAction],
    blue_green: BlueGreen | None,
    has_releases: bool,
    health: list[str],
) -> None:
    if blue_green is None:
        return
    where = f"service {service}: blue_green"
    if has_releases:
        raise ValueError(f"{where}: a service has one release strategy, releases or blue_green")
    if blue_green.live is not None and not hosts:
        raise ValueError(f"{where}: needs at least one host to read the live color on")
    if blue_green.host is not None and blue_green.host not in hosts:
        raise ValueError(f"{where}.host: unknown host {blue_green.host}")
    if not health:
        raise ValueError(f"{where}: the service needs a health endpoint to verify the switch")
    unknown = [name for name in blue_green.health if name not in health]
    if unknown:
        raise ValueError(f"{where}.health: unknown health endpoint(s) {', '.join(unknown)}")
    by_name = {a.name: a for a in actions}
    for color, name in blue_green.colors.items():
        key = f"{where}.colors.{color}"
        action = by_name.get(name)
        if action is None:
            raise ValueError(f"{key}: action {name!r} is not an action of this service")
        back = blue_green.colors[blue_green.other(color)]
        if action.undo is not None and action.undo != back:
            raise ValueError(
                f"{key}: action {name} has undo {action.undo!r}; switching back is {back!r}"
            )
        if action.suggested_by or action.suggested_by_findings:
            raise ValueError(
                f"{key}: action {name} switches colors when a release just went live;"
                " it cannot also be suggested by check ids or findings"
            )
