"""What every issue tracker must do, and the markers that make its writes idempotent.

One tracker issue exists per alert fingerprint. Each write carries a hidden, signed marker
naming the occurrence that caused it (``markers.py``), so a retried or re-run task finds its
own earlier write instead of writing again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from remediate.trackers.markers import FINGERPRINT, OCCURRENCE, MarkerSigner
from remediate.trackers.models import IssueRef


class IssueDraft(BaseModel):
    """What to write for one occurrence of an alert."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    occurrence_key: str
    title: str = Field(max_length=256)
    body: str
    comment: str
    labels: list[str] = Field(default_factory=list)

    def marked_body(self, signer: MarkerSigner) -> str:
        header = signer.header((FINGERPRINT, self.fingerprint), (OCCURRENCE, self.occurrence_key))
        return header + self.body

    def marked_comment(self, signer: MarkerSigner) -> str:
        return signer.header((OCCURRENCE, self.occurrence_key)) + self.comment


class Tracker(Protocol):
    """An issue tracker holding one issue per fingerprint."""

    @property
    def markers(self) -> MarkerSigner:
        """Signs the hidden markers this tracker writes and reads."""
        ...

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
