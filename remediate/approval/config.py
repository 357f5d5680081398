"""Catalog section for the approval gate: who may approve, how long it waits, who is told."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

SLACK_USER_ID = r"[UW][A-Z0-9]{2,20}"
GITHUB_LOGIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"


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
    slack_users: dict[str, str] = Field(
        default_factory=dict,
        description="Slack user id (U...) -> approver name: who may decide with the buttons.",
    )
    github_users: dict[str, str] = Field(
        default_factory=dict,
        description="GitHub login -> approver name: who may decide with /approve, /reject.",
    )

    @model_validator(mode="after")
    def _mapped_to_approvers(self) -> Self:
        for section, mapping, pattern in (
            ("slack_users", self.slack_users, SLACK_USER_ID),
            ("github_users", self.github_users, GITHUB_LOGIN),
        ):
            for account, approver in mapping.items():
                if not re.fullmatch(pattern, account):
                    raise ValueError(f"approval.{section}: {account!r} is not an account id")
                if approver not in self.approvers:
                    raise ValueError(
                        f"approval.{section}: {account} maps to {approver!r},"
                        " who is not on approval.approvers"
                    )
        return self

    def approver_for(self, section: str, account: str) -> str | None:
        """The approver an account of ``section`` (slack_users, github_users) decides as,
        if it is mapped and the approver is still listed."""
        mapping = self.slack_users if section == "slack_users" else self.github_users
        approver = mapping.get(account)
        return approver if approver in self.approvers else None
