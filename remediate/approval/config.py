"""Catalog section for the approval gate: who may approve, how long it waits, who is told."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotifyChannel(_Strict):
    """Where to announce that a fix waits for approval. Webhook URLs are secrets: prefer
    ``url_env``, the name of an environment variable holding the URL."""

    kind: Literal["webhook", "slack"]
    url: HttpUrl | None = None
    url_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        return self

    @property
    def label(self) -> str:
        return f"{self.kind} ({self.url_env or 'url in catalog'})"


class ApprovalConfig(_Strict):
    timeout_s: float = Field(default=4 * 3600, gt=0, le=30 * 86_400)
    approvers: list[str] = Field(
        default_factory=list,
        description="Names allowed to approve; an empty list lets nobody approve.",
    )
    notify: list[NotifyChannel] = Field(default_factory=list)
