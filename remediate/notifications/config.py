"""The catalog's ``notifications`` section: the channels and the events each one hears."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class Event(StrEnum):
    ISSUE_OPENED = "issue-opened"
    APPROVAL_REQUESTED = "approval-requested"
    DECIDED = "decided"
    PULL_REQUEST_OPENED = "pull-request-opened"
    ACTION_RUN = "action-run"
    ACTION_UNDONE = "action-undone"
    DRY_RUN = "dry-run"


ChannelKind = Literal["slack", "telegram", "mattermost", "teams", "discord", "webhook", "block"]
URL_KINDS = ("slack", "mattermost", "teams", "discord", "webhook")


class Channel(BaseModel):
    """One place to tell. Webhook URLs and bot tokens are secrets: ``url_env`` and
    ``token_env`` name the environment variables holding them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ChannelKind
    url: HttpUrl | None = None
    url_env: str | None = Field(default=None, pattern=ENV_NAME)
    token_env: str | None = Field(
        default=None, pattern=ENV_NAME, description="telegram: the bot token's variable"
    )
    chat_id: str | None = Field(
        default=None, pattern=r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$"
    )
    api_url: HttpUrl = Field(
        default=HttpUrl("https://api.telegram.org"), description="telegram: the Bot API base"
    )
    block: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]+/[a-z0-9-]+$",
        description="block: a saved Prefect notification block, '<block type>/<name>'",
    )
    events: list[Event] = Field(default_factory=lambda: list(Event), min_length=1)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Self:
        if self.kind in URL_KINDS and (self.url is None) == (self.url_env is None):
            raise ValueError(f"{self.kind}: give exactly one of url or url_env")
        if self.kind == "telegram" and (self.token_env is None or self.chat_id is None):
            raise ValueError("telegram: give token_env and chat_id")
        if self.kind == "block" and self.block is None:
            raise ValueError("block: give the saved block as '<block type>/<name>'")
        return self

    @property
    def label(self) -> str:
        where = self.url_env or self.token_env or self.block or "url in catalog"
        return f"{self.kind} ({where})"


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: list[Channel] = Field(default_factory=list)

    def hearing(self, event: Event) -> list[Channel]:
        return [channel for channel in self.channels if event in channel.events]
