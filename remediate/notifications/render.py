"""One notice in each channel's format."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from remediate.notifications import escape
from remediate.notifications.notice import DecisionRequest, Notice

APPROVE_ACTION = "remediate-approve"
REJECT_ACTION = "remediate-reject"
DECISION_BLOCK = "remediate-decision"


def _url(url: str) -> str:
    """A link target no markup can break out of (``|``, ``>``, ``)``, quotes, spaces)."""
    return quote(escape.plain(url, 2000), safe=":/?&=#%@+,;~")


def button_value(request: DecisionRequest) -> str:
    return json.dumps(request.model_dump(exclude_none=True), separators=(",", ":"))


def _buttons(request: DecisionRequest) -> dict[str, Any]:
    value = button_value(request)
    return {
        "type": "actions",
        "block_id": DECISION_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": value,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Approve?"},
                    "text": {"type": "plain_text", "text": "This approves exactly what is shown."},
                    "confirm": {"type": "plain_text", "text": "Approve"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION,
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": value,
            },
        ],
    }


def slack_blocks(notice: Notice) -> list[dict[str, Any]]:
    """Block Kit: the headline in ``mrkdwn`` (escaped), every untrusted text in
    ``plain_text``, which Slack never parses for mentions, links or markup."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{escape.slack(notice.headline)}*"},
        }
    ]
    if notice.summary:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "plain_text", "text": escape.plain(notice.summary, 2900)},
            }
        )
    if notice.facts:
        fields = [
            {"type": "plain_text", "text": escape.plain(f"{label}: {value}", 1900)}
            for label, value in notice.facts[:10]
        ]
        blocks.append({"type": "section", "fields": fields})
    if notice.links:
        links = " · ".join(
            f"<{escape.slack(_url(url))}|{escape.slack(label, 100)}>" for label, url in notice.links
        )
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
    return blocks


def slack_fallback(notice: Notice) -> str:
    """The notification text (and what clients without Block Kit show)."""
    return escape.slack(
        f"{notice.headline}: {notice.summary}" if notice.summary else notice.headline
    )


def slack_message(notice: Notice) -> dict[str, Any]:
    blocks = slack_blocks(notice)
    if notice.decision is not None:
        blocks.append(_buttons(notice.decision))
    return {"text": slack_fallback(notice), "blocks": blocks}


def telegram_text(notice: Notice) -> str:
    lines = [f"<b>{escape.telegram_html(notice.headline)}</b>"]
    if notice.summary:
        lines.append(escape.telegram_html(notice.summary, 1500))
    lines += [
        f"<b>{escape.telegram_html(label, 100)}:</b> {escape.telegram_html(value, 300)}"
        for label, value in notice.facts
    ]
    lines += [
        f'<a href="{escape.telegram_html(_url(url))}">{escape.telegram_html(label, 100)}</a>'
        for label, url in notice.links
    ]
    return "\n".join(lines)[:4096]


def markdown_text(notice: Notice) -> str:
    """Mattermost, Discord and Teams."""
    lines = [f"**{escape.chat_markdown(notice.headline)}**", ""]
    if notice.summary:
        lines += [escape.chat_markdown(notice.summary, 1500), ""]
    lines += [
        f"- **{escape.chat_markdown(label, 100)}:** {escape.chat_markdown(value, 300)}"
        for label, value in notice.facts
    ]
    if notice.links:
        lines += [
            "",
            " · ".join(
                f"[{escape.chat_markdown(label, 100)}]({_url(url)})" for label, url in notice.links
            ),
        ]
    return "\n".join(lines)[:1900]


def plain_text(notice: Notice) -> str:
    lines = [escape.plain(notice.headline)]
    if notice.summary:
        lines.append(escape.plain(notice.summary, 1500))
    lines += [escape.plain(f"{label}: {value}", 400) for label, value in notice.facts]
    lines += [f"{escape.plain(label, 100)}: {_url(url)}" for label, url in notice.links]
    return "\n".join(lines)


def webhook_json(notice: Notice) -> dict[str, Any]:
    """The generic webhook's JSON, every value inert for the custom webhook block's
    ``{{placeholder}}`` substitution."""

    def safe(text: str, limit: int = 2000) -> str:
        return escape.template_safe(escape.plain(text, limit))

    return {
        "event": notice.event.value,
        "key": safe(notice.key, 300),
        "headline": safe(notice.headline),
        "summary": safe(notice.summary),
        "facts": {safe(label, 100): safe(value) for label, value in notice.facts},
        "links": {safe(label, 100): escape.template_safe(_url(url)) for label, url in notice.links},
        "decision": notice.decision.model_dump() if notice.decision else None,
    }
