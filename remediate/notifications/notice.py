"""What one notification says, before any channel's markup.

``headline`` and fact labels are the project's own words; ``summary`` and fact values may
come from an alert, a model or a person and are escaped by each channel's renderer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from remediate.notifications.config import Event
from remediate.redaction import Redactor


class DecisionRequest(BaseModel):
    """What the Approve / Reject buttons resume: the run, its suspension key and, for a
    fix, the sha256 of the diff shown (the gate refuses any other)."""

    model_config = ConfigDict(frozen=True)

    run_id: str = Field(pattern=r"^[0-9a-f-]{36}$")
    key: str = Field(pattern=r"^[a-z0-9-]{1,60}$")
    diff_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True)

    event: Event
    key: str
    """Sent once per run and key: a resumed run sends nothing twice."""
    headline: str
    summary: str = ""
    facts: list[tuple[str, str]] = Field(default_factory=list)
    links: list[tuple[str, str]] = Field(default_factory=list)
    decision: DecisionRequest | None = None

    def redacted(self, redactor: Redactor) -> Notice:
        return self.model_copy(
            update={
                "summary": redactor(self.summary),
                "facts": [(label, redactor(value)) for label, value in self.facts],
            }
        )
