"""Render markdown with cmark-gfm (GitHub's renderer) and check untrusted text stayed inert."""

from __future__ import annotations

import re

import cmarkgfm
from cmarkgfm.cmark import Options

ALLOWED_TAGS = {
    "p", "h2", "table", "thead", "tbody", "tr", "th", "td", "pre", "code", "details",
    "summary", "strong", "ul", "li", "a",
}  # fmt: skip


def render(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def code_blocks(html: str) -> list[str]:
    return re.findall(r"<pre[^>]*><code>(.*?)</code></pre>", html, re.DOTALL)


def visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def assert_inert(html: str, links: list[str]) -> None:
    """Only our own tags and links; no mention, issue reference or www. autolink."""
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert re.findall(r'<a href="([^"]*)"', html) == links
    text = visible_text(html)
    assert not re.search(r"@[A-Za-z0-9]", text), "a mention survived"
    assert not re.search(r"#[0-9]", text), "an issue reference survived"
    assert not re.search(r"(?i)\bgh-[0-9]", text), "a GH- reference survived"
    assert not re.search(r"(?i)\bwww\.", text), "a www. autolink survived"
