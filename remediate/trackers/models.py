"""What a tracker write did to the incident issue."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IssueAction(StrEnum):
    OPENED = "opened"
    COMMENTED = "commented"
    REOPENED = "reopened"
    UNCHANGED = "unchanged"


class IssueRef(_Frozen):
    tracker: Literal["local", "github"]
    number: int
    url: str
    action: IssueAction
