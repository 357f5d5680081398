"""Markdown for untrusted text: nothing in it can mention people, inject HTML or close a fence."""

from __future__ import annotations

import re

_ZWSP = "\u200b"
_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")
_ISSUE_REF = re.compile(r"#(?=\d)")
_INLINE_SPECIALS = str.maketrans(
    {
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "\\": "\\\\",
    }
)


def _defuse(text: str) -> str:
    text = _MENTION.sub("@" + _ZWSP, text)
    return _ISSUE_REF.sub("#" + _ZWSP, text)


def inline(text: str, limit: int = 500) -> str:
    """One line of untrusted text, safe inside a paragraph or a table cell."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    flat = flat.translate(_INLINE_SPECIALS)
    flat = flat.replace("://", ":/" + _ZWSP + "/")
    return _defuse(flat)


def fenced(text: str, info: str = "text") -> str:
    """A code block whose fence is longer than any backtick or tilde run in ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{_defuse(text)}\n{fence}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)
