"""Runbook actions in the catalog: typed parameters, a command over SSH or an HTTP call,
a post-condition, and the check ids and diagnosis findings that suggest them.

A command is an argument list; each argument is either a literal from the catalog or a
whole ``{parameter}`` placeholder. Parameter values pass their type's check and a
character allow-list that leaves out every shell metacharacter before they take part
in a command, which is then quoted with ``shlex``, or in an HTTP call (see
``http_action_config``). Alert fields never take part.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from remediate.actions.http_config import HttpCall, PathSegmentError
from remediate.diagnosis.findings import Finding, check_finding_pattern, first_match

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
PARAMETER_NAME = r"^[a-z][a-z0-9_]{0,30}$"
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:/@+=,][A-Za-z0-9_.:/@+=,-]{0,199}$")
_PLACEHOLDER = re.compile(r"^\{([a-z][a-z0-9_]{0,30})\}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Risk = Literal["low", "medium", "high"]
ParameterValue = str | int


class ActionParameterError(ValueError):
    """A parameter value is refused; the message names the action and the parameter."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionParameter(_Strict):
    name: str = Field(pattern=PARAMETER_NAME)
    kind: Literal["enum", "int", "string"]
    description: str = ""
    choices: list[str] = Field(default_factory=list, description="Allowed values of an enum.")
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = Field(
        default=None, max_length=500, description="A string value must match it in full."
    )
    default: ParameterValue = Field(description="The value a proposal uses.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.kind == "enum" and not self.choices:
            raise ValueError(f"parameter {self.name}: an enum needs choices")
        if self.kind != "enum" and self.choices:
            raise ValueError(f"parameter {self.name}: choices apply only to kind enum")
        if self.kind != "int" and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"parameter {self.name}: minimum/maximum apply only to kind int")
        if self.kind != "string" and self.pattern is not None:
            raise ValueError(f"parameter {self.name}: pattern applies only to kind string")
        if self.kind == "string" and self.pattern is None:
            raise ValueError(f"parameter {self.name}: a string needs a pattern")
        for choice in self.choices:
            if not SAFE_VALUE.match(choice):
                raise ValueError(f"parameter {self.name}: choice {choice!r} has unsafe characters")
        self.check(self.default)
        return self

    def check(self, value: object) -> str:
        """The value as a command argument, or ``ActionParameterError`` naming the parameter."""
        where = f"parameter {self.name}"
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ActionParameterError(f"{where}: expected an integer, got {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise ActionParameterError(f"{where}: {value} is below {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ActionParameterError(f"{where}: {value} is above {self.maximum}")
            return str(value)
        if not isinstance(value, str):
            raise ActionParameterError(f"{where}: expected a string, got {value!r}")
        if not SAFE_VALUE.match(value):
            raise ActionParameterError(
                f"{where}: {value!r} contains characters outside [A-Za-z0-9_.:/@+=,-]"
                " or starts with '-'"
            )
        if self.kind == "enum" and value not in self.choices:
            raise ActionParameterError(f"{where}: {value!r} is not one of {self.choices}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ActionParameterError(f"{where}: {value!r} does not match {self.pattern!r}")
        return value


class PostCondition(_Strict):
    healthy_within_s: float = Field(default=30.0, gt=0, le=3_600)
    interval_s: float = Field(default=1.0, gt=0, le=60)


class RunbookAction(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(min_length=1, max_length=1_000)
    risk: Risk
    parameters: list[ActionParameter] = Field(default_factory=list)
    run: list[str] | None = Field(
        default=None,
        min_length=1,
        description="SSH argument list; an argument may be a whole {parameter}.",
    )
    http: HttpCall | None = Field(default=None, description="An HTTP call instead of run.")
    hosts: list[str] = Field(
        default_factory=list,
        description="Host names to run it on, in order; all when empty. SSH actions only.",
    )
    timeout_s: float = Field(default=60.0, gt=0, le=3_600)
    post_condition: PostCondition = PostCondition()
    undo: str | None = Field(default=None, pattern=NAME_PATTERN)
    unattended: bool = Field(default=False, description="Run without approval; low risk only.")
    suggested_by: list[str] = Field(
        default_factory=list, description="Check ids (wildcards allowed) that propose it."
    )
    suggested_by_findings: list[str] = Field(
        default_factory=list,
        description="Diagnosis finding kinds (wildcards allowed) that propose it.",
    )

    @field_validator("suggested_by_findings")
    @classmethod
    def _known_findings(cls, patterns: list[str]) -> list[str]:
        return [check_finding_pattern(p) for p in patterns]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.unattended and self.risk != "low":
            raise ValueError(f"action {self.name}: unattended is only allowed with risk low")
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError(f"action {self.name}: parameter names must be unique")
        if (self.run is None) == (self.http is None):
            raise ValueError(f"action {self.name}: give exactly one of run or http")
        if self.http is not None:
            if self.hosts:
                raise ValueError(f"action {self.name}: hosts apply only to run (SSH) actions")
            unknown = sorted(set(self.http.placeholders()) - set(names))
            if unknown:
                raise ValueError(f"action {self.name}: http uses unknown parameter(s) {unknown}")
            self.url()
        run = self.run or []
        if run and (not run[0] or _PLACEHOLDER.match(run[0])):
            raise ValueError(f"action {self.name}: run must start with a literal program name")
        for arg in run:
            if _CONTROL.search(arg):
                raise ValueError(f"action {self.name}: run arguments must not hold control chars")
            match = _PLACEHOLDER.match(arg)
            if match and match.group(1) not in names:
                raise ValueError(f"action {self.name}: run uses unknown parameter {arg}")
            if not match and ("{" in arg or "}" in arg):
                raise ValueError(
                    f"action {self.name}: a placeholder must be a whole argument, got {arg!r}"
                )
        if self.undo == self.name:
            raise ValueError(f"action {self.name}: cannot be its own undo")
        return self

    def suggested_for(self, check_id: str) -> bool:
        return any(fnmatch.fnmatchcase(check_id, pattern) for pattern in self.suggested_by)

    def finding_for(self, findings: list[Finding]) -> Finding | None:
        """The first of the diagnosis findings that suggests this action."""
        return first_match(self.suggested_by_findings, findings)

    def arguments(self, values: dict[str, ParameterValue] | None = None) -> dict[str, str]:
        """Validated parameter values (defaults unless given) as command arguments."""
        given = values or {}
        unknown = sorted(set(given) - {p.name for p in self.parameters})
        if unknown:
            raise ActionParameterError(f"action {self.name}: unknown parameter(s) {unknown}")
        checked: dict[str, str] = {}
        for parameter in self.parameters:
            try:
                checked[parameter.name] = parameter.check(
                    given.get(parameter.name, parameter.default)
                )
            except ActionParameterError as exc:
                raise ActionParameterError(f"action {self.name}: {exc}") from None
        return checked

    def bound(self, values: dict[str, ParameterValue]) -> RunbookAction:
        """This action with ``values`` as its parameter defaults, each checked like any value
        (``ActionParameterError`` for an unknown parameter or a refused value)."""
        self.arguments(values)
        parameters = [
            p.model_copy(update={"default": values[p.name]}) if p.name in values else p
            for p in self.parameters
        ]
        return self.model_copy(update={"parameters": parameters})

    def argv(self, values: dict[str, ParameterValue] | None = None) -> list[str]:
        if self.run is None:
            raise ValueError(f"action {self.name} is an HTTP call, not a command")
        checked = self.arguments(values)
        out = []
        for arg in self.run:
            match = _PLACEHOLDER.match(arg)
            out.append(checked[match.group(1)] if match else arg)
        return out

    def command(self, values: dict[str, ParameterValue] | None = None) -> str:
        return shlex.join(self.argv(values))

    def url(self, values: dict[str, ParameterValue] | None = None) -> str:
        if self.http is None:
            raise ValueError(f"action {self.name} is a command, not an HTTP call")
        try:
            return self.http.url_for(self.arguments(values))
        except PathSegmentError as exc:
            raise ActionParameterError(f"action {self.name}: {exc}") from None

    def body(self, values: dict[str, ParameterValue] | None = None) -> JsonValue:
        if self.http is None:
            raise ValueError(f"action {self.name} is a command, not an HTTP call")
        checked = self.arguments(values)
        kinds = {p.name: p.kind for p in self.parameters}
        typed: dict[str, str | int] = {
            name: int(value) if kinds[name] == "int" else value for name, value in checked.items()
        }
        return self.http.body_for(typed)

    def shown(self, values: dict[str, ParameterValue] | None = None) -> str:
        """The command line, or the HTTP method and URL, as proposals and reports show it."""
        if self.http is not None:
            return f"{self.http.method} {self.url(values)}"
        return self.command(values)


@dataclass(frozen=True)
class Suggestion:
    action: RunbookAction
    reason: str


def suggest(
    actions: list[RunbookAction], check_id: str, findings: list[Finding]
) -> Suggestion | None:
    """The first action naming the check id; failing that, the first naming a finding."""
    for action in actions:
        if action.suggested_for(check_id):
            return Suggestion(action, f"check id {check_id}")
    for action in actions:
        finding = action.finding_for(findings)
        if finding is not None:
            return Suggestion(action, f"diagnosis finding {finding.kind}: {finding.detail}")
    return None


def check_service_actions(service: str, hosts: list[str], actions: list[RunbookAction]) -> None:
    names = [a.name for a in actions]
    if len(set(names)) != len(names):
        raise ValueError(f"service {service}: action names must be unique")
    if any(a.run is not None for a in actions) and not hosts:
        raise ValueError(f"service {service}: SSH (run) actions need at least one host")
    for action in actions:
        unknown = [h for h in action.hosts if h not in hosts]
        if unknown:
            raise ValueError(
                f"service {service}: action {action.name}: unknown host(s) {', '.join(unknown)}"
            )
        if action.undo is not None and action.undo not in names:
            raise ValueError(
                f"service {service}: action {action.name}: undo {action.undo!r}"
                " is not an action of this service"
            )
