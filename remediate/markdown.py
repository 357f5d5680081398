"""Markdown for untrusted text: nothing in it can mention people, inject HTML or close a fence."""

from __future__ import annotations

import re

_ZWSP = "\u200b"
_MENTION = re.compile(r"@(?=[A-Za-z0-9_-])")
_ISSUE_REF = re.compile(r"#(?=\d)")
_GH_REF = re.compile(r"(?i)\b(gh)-(?=\d)")
_WWW = re.compile(r"(?i)\b(www)\.")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CLOSING = re.compile(r"(?i)\b(clos|fix|resolv)(?=(?:e|es|ed)\b|\b)")
_TAG = re.compile(r"<[^<>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
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
    """No @-mentions, issue references or bare www. links (they notify or cross-reference)."""
    text = _MENTION.sub("@" + _ZWSP, text)
    text = _ISSUE_REF.sub("#" + _ZWSP, text)
    text = _GH_REF.sub(lambda m: m.group(1) + "-" + _ZWSP, text)
    return _WWW.sub(lambda m: m.group(1) + _ZWSP + ".", text)


def has_hidden_characters(text: str) -> bool:
    """Whether ``text`` holds control or bidirectional characters that ``fenced`` drops."""
    return _CONTROL.search(text) is not None or "\x1b" in text


def strip_controls(text: str) -> str:
    """Drop control and bidirectional-override characters; keep tabs and newlines."""
    text = _ANSI.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _CONTROL.sub("", text)


def plain(text: str, limit: int = 256) -> str:
    """One line of untrusted text where markdown is not rendered (an issue title)."""
    flat = _defuse(" ".join(strip_controls(str(text)).split()))
    if len(flat) > limit:
        flat = flat[: limit - 1].removesuffix(_ZWSP) + "…"
    return flat


def inert_line(text: str, limit: int) -> str:
    """One line of untrusted text that acts on nothing where GitHub reads plain text (a
    commit subject or a pull-request title): no closing keyword (``fixes #1`` would close
    an issue), mention, reference, link, HTML tag or control character; at most ``limit``."""
    flat = " ".join(strip_controls(str(text)).split())
    flat = _TAG.sub("", flat).replace("<", "").replace(">", "")
    flat = _CLOSING.sub(lambda m: m.group(1)[0] + _ZWSP + m.group(1)[1:], flat)
    flat = _defuse(flat.replace("://", ":/" + _ZWSP + "/"))
    if len(flat) > limit:
        flat = flat[: limit - 1].removesuffix(_ZWSP) + "…"
    return flat


def inline(text: str, limit: int = 500) -> str:
    """One line of untrusted text, safe inside a paragraph or a table cell."""
    flat = " ".join(strip_controls(str(text)).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    flat = flat.translate(_INLINE_SPECIALS)
    flat = flat.replace("://", ":/" + _ZWSP + "/")
    return _defuse(flat)


def fenced(text: str, info: str = "text") -> str:
    """A code block whose fence is longer than any backtick or tilde run in ``text``."""
    text = strip_controls(text)
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


def own_link(url: str, text: str) -> str:
    """A Markdown link to an address the project built itself (http or https); anything
    else is shown as inert text. ``text`` is ours, not untrusted."""
    if not url.startswith(("http://", "https://")) or any(c in url for c in " <>()[]`\n"):
        return inline(url, 500)
    return f"[{text}]({url})"
