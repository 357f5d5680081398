"""Catalog entries for deeper diagnosis: dependencies to reach, JSON to expect, thresholds."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from remediate.evidence.config import NAME_PATTERN, validate_address

JSON_PATH = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dependency(_Strict):
    """A non-HTTP dependency (database, cache, queue) checked with a TCP connect."""

    name: str = Field(pattern=NAME_PATTERN)
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return validate_address(value)


class JsonCheck(_Strict):
    """A field of the health response's JSON body that must equal or contain a value."""

    path: str = Field(pattern=JSON_PATH, description="Dotted path; list items by index.")
    equals: Any = None
    contains: str | int | float | bool | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> Self:
        given = [k for k in ("equals", "contains") if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(f"json check {self.path}: set exactly one of equals or contains")
        return self

    def describe(self) -> str:
        if "equals" in self.model_fields_set:
            return f"{self.path} == {self.equals!r}"
        return f"{self.path} contains {self.contains!r}"


class DiagnosisConfig(_Strict):
    connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    slow_ms: float = Field(default=500.0, gt=0, description="Slower than this is reported slow.")
    tls_warn_days: int = Field(default=14, ge=0, le=365)
    dns: bool = True
    tls: bool = True


def check_names(service: str, dependencies: list[Dependency]) -> None:
    names = [d.name for d in dependencies]
    if len(set(names)) != len(names):
        raise ValueError(f"service {service}: dependency names must be unique")
