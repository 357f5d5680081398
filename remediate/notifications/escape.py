"""Untrusted text made inert for each channel's markup.

Whatever the markup, an @-mention (``@channel``, ``@here``, ``@all``, ``@everyone``,
``@user``) gets a zero-width space after its ``@``, and so does the ``<`` of Slack's and
Discord's ``<!channel>``, ``<@U123>`` and ``<#C1>`` even where nothing is parsed, so text
from an alert or a model notifies nobody; control and bidirectional-override characters
are dropped."""

from __future__ import annotations

import html
import re

from remediate.markdown import strip_controls

ZWSP = "\u200b"
_MENTION = re.compile(r"@(?=[A-Za-z0-9_.-])")
_SPECIAL = re.compile(r"<(?=[!@#])")
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_~|>#\[\]()!{}+=.-])")
_BRACES = re.compile(r"\{\{")


def _clean(text: str, limit: int) -> str:
    text = strip_controls(str(text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _SPECIAL.sub("<" + ZWSP, _MENTION.sub("@" + ZWSP, text))


def plain(text: str, limit: int = 2000) -> str:
    """Text where nothing is rendered (JSON fields, Slack ``plain_text``)."""
    return _clean(text, limit)


def slack(text: str, limit: int = 2000) -> str:
    """Slack ``mrkdwn``: ``&``, ``<`` and ``>`` are the only characters Slack escapes, and
    with them escaped no ``<!channel>``, ``<@U123>`` or ``<url|label>`` can be formed."""
    text = _clean(text, limit)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def telegram_html(text: str, limit: int = 2000) -> str:
    """Telegram's ``parse_mode=HTML``: every tag and entity escaped."""
    return html.escape(_clean(text, limit), quote=True)


def chat_markdown(text: str, limit: int = 2000) -> str:
    """Mattermost, Discord and Teams Markdown: every markup character backslash-escaped,
    ``<`` as well (Discord's ``<@id>`` mentions), so emphasis, links and headings stay
    literal."""
    text = _MARKDOWN_SPECIALS.sub(r"\\\1", _clean(text, limit))
    return text.replace("<", "\\<")


def template_safe(text: str) -> str:
    """No ``{{placeholder}}`` for the custom webhook block to fill in."""
    return _BRACES.sub("{" + ZWSP + "{", text)
