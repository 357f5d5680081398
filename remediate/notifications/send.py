"""Delivering a notice to every channel that hears its event.

Slack and Telegram are plain HTTPS calls (Prefect's ``SlackWebhook`` block sends text
only, and the Approve / Reject buttons need Block Kit; Prefect has no Telegram block).
Mattermost, Teams, Discord, the generic webhook and saved blocks go through Prefect's
notification blocks. A failure becomes a ``Delivery`` with ``ok=False`` and a short reason
that never holds a URL or token."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx
from prefect.blocks.abstract import NotificationBlock
from prefect.blocks.core import Block
from prefect.blocks.notifications import (
    CustomWebhookNotificationBlock,
    DiscordWebhook,
    MattermostWebhook,
    MicrosoftTeamsWebhook,
    SlackWebhook,
)
from pydantic import BaseModel, ConfigDict, SecretStr

from remediate.notifications import render
from remediate.notifications.config import Channel
from remediate.notifications.notice import Notice
from remediate.redaction import Redactor

TIMEOUT_S = 10.0


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: str
    ok: bool
    detail: str


class ChannelError(Exception):
    """Why a channel cannot be used; the message holds no secret."""


def _secret(channel: Channel, env: Mapping[str, str]) -> str:
    if channel.url is not None:
        return str(channel.url)
    name = channel.url_env or channel.token_env or ""
    value = env.get(name, "").strip()
    if not value:
        raise ChannelError(f"{name} is not set")
    return value


def mattermost_block(url: str) -> MattermostWebhook:
    """From an incoming-webhook URL, ``https://chat.example.com/hooks/<token>``."""
    parts = urlsplit(url)
    path, found, token = parts.path.rpartition("/hooks/")
    if not found or not token or "/" in token or not parts.hostname:
        raise ChannelError("the Mattermost URL is not <server>/hooks/<token>")
    return MattermostWebhook(
        hostname=parts.hostname,
        token=SecretStr(token),
        secure=parts.scheme == "https",
        port=parts.port or (443 if parts.scheme == "https" else 80),
        path=path or None,
    )


def discord_block(url: str) -> DiscordWebhook:
    """From a webhook URL, ``https://discord.com/api/webhooks/<id>/<token>``."""
    _, _, tail = urlsplit(url).path.partition("/api/webhooks/")
    webhook_id, _, token = tail.partition("/")
    if not webhook_id.isdigit() or not token:
        raise ChannelError("the Discord URL is not .../api/webhooks/<id>/<token>")
    return DiscordWebhook(webhook_id=SecretStr(webhook_id), webhook_token=SecretStr(token))


def _body_for(block: NotificationBlock, notice: Notice) -> str:
    if isinstance(block, SlackWebhook):
        return render.slack_fallback(notice)
    if isinstance(block, MattermostWebhook | DiscordWebhook | MicrosoftTeamsWebhook):
        return render.markdown_text(notice)
    return render.plain_text(notice)


async def _via_block(block: NotificationBlock, notice: Notice) -> None:
    with block.raise_on_failure():
        await block.notify(_body_for(block, notice))


async def _saved_block(name: str) -> NotificationBlock:
    block = await Block.aload(name)
    if not isinstance(block, NotificationBlock):
        raise ChannelError(f"block {name} is not a notification block")
    return block


async def _post(client: httpx.AsyncClient, url: str, body: object) -> None:
    response = await client.post(url, json=body)
    if not 200 <= response.status_code < 300:
        raise ChannelError(f"HTTP {response.status_code}")


async def _telegram(
    client: httpx.AsyncClient, channel: Channel, token: str, notice: Notice
) -> None:
    base = str(channel.api_url).rstrip("/")
    response = await client.post(
        f"{base}/bot{token}/sendMessage",
        json={
            "chat_id": channel.chat_id,
            "text": render.telegram_text(notice),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        },
    )
    if response.status_code != 200:
        raise ChannelError(f"HTTP {response.status_code}")


async def _deliver(
    client: httpx.AsyncClient, channel: Channel, notice: Notice, env: Mapping[str, str]
) -> None:
    if channel.kind == "block":
        await _via_block(await _saved_block(channel.block or ""), notice)
        return
    secret = _secret(channel, env)
    match channel.kind:
        case "slack":
            await _post(client, secret, render.slack_message(notice))
        case "telegram":
            await _telegram(client, channel, secret, notice)
        case "mattermost":
            await _via_block(mattermost_block(secret), notice)
        case "discord":
            await _via_block(discord_block(secret), notice)
        case "teams":
            await _via_block(MicrosoftTeamsWebhook(url=SecretStr(secret)), notice)
        case "webhook":
            block = CustomWebhookNotificationBlock(
                name="remediate", url=secret, json_data=render.webhook_json(notice)
            )
            await _via_block(block, notice)


async def send(
    channels: list[Channel],
    notice: Notice,
    redactor: Redactor,
    env: Mapping[str, str] | None = None,
) -> list[Delivery]:
    env = os.environ if env is None else env
    notice = notice.redacted(redactor)
    deliveries = []
    async with httpx.AsyncClient(timeout=TIMEOUT_S, trust_env=False) as client:
        for channel in channels:
            try:
                await _deliver(client, channel, notice, env)
            except ChannelError as exc:
                deliveries.append(Delivery(channel=channel.label, ok=False, detail=str(exc)))
            except Exception as exc:  # a failing channel never fails the run
                deliveries.append(
                    Delivery(channel=channel.label, ok=False, detail=type(exc).__name__)
                )
            else:
                deliveries.append(Delivery(channel=channel.label, ok=True, detail="sent"))
    return deliveries
