"""The issue an alert-patterns run wrote for one finding."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from remediate.patterns.detect import Kind
from remediate.trackers.models import IssueRef


class PatternIssue(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    fingerprint: str
    detail: str
    issue: IssueRef
