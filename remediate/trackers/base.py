"""What every issue tracker must do, and the markers that make its writes idempotent.

One tracker issue exists per alert fingerprint. Each write carries a hidden marker naming
the occurrence that caused it, so a retried or re-run task finds its own earlier write
instead of writing again.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from remediate.trackers.models import IssueRef

FINGERPRINT_MARKER = "<!-- remediate:fingerprint={} -->"
OCCURRENCE_MARKER = "<!-- remediate:occurrence={} -->"
_OCCURRENCE_RE = re.compile(r"<!-- remediate:occurrence=([^ ]+) -->")


class IssueDraft(BaseModel):
    """What to write for one occurrence of an alert."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    occurrence_key: str
    title: str = Field(max_length=256)
    body: str
    comment: str
    labels: list[str] = Field(default_factory=list)

    def marked_body(self) -> str:
        return (
            f"{FINGERPRINT_MARKER.format(self.fingerprint)}\n"
            f"{OCCURRENCE_MARKER.format(self.occurrence_key)}\n{self.body}"
        )

    def marked_comment(self) -> str:
        return f"{OCCURRENCE_MARKER.format(self.occurrence_key)}\n{self.comment}"


def occurrences_in(text: str) -> set[str]:
    return set(_OCCURRENCE_RE.findall(text))


class Tracker(Protocol):
    """An issue tracker holding one issue per fingerprint."""

    def open_or_update(self, draft: IssueDraft, now: datetime) -> IssueRef:
        """Open an issue for a new fingerprint, or comment on (reopening if recently closed)
        the existing one. Writing the same occurrence twice changes nothing."""
        ...

    def add_comment(self, number: int, key: str, text: str) -> bool:
        """Comment once per ``key`` on issue ``number``; False when it was already there."""
        ...

    def issue_for(self, fingerprint: str) -> int | None:
        """The number of the fingerprint's current issue (the oldest open one, else the most
        recently closed one), None when it has none."""
        ...
