"""The local tracker's issue as a read-only web page, for people who follow an issue link.

The issue's Markdown is rendered with raw HTML off (every tag in it shows as text) and only
http, https and mailto links kept; the page carries a Content-Security-Policy that allows
no script at all, so nothing an alert wrote can run in the reader's browser.
"""

from __future__ import annotations

from html import escape

from markdown_it import MarkdownIt

from remediate.trackers.local import LocalIssue

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SAFE_SCHEMES = ("http://", "https://", "mailto:", "#")
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2rem .4rem}.comment{border-top:1px solid #ccc}"
)


def _markdown() -> MarkdownIt:
    renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

    def validate(url: str) -> bool:
        return url.strip().lower().startswith(SAFE_SCHEMES)

    renderer.validateLink = validate  # type: ignore[method-assign]
    return renderer


def issue_page(issue: LocalIssue) -> str:
    render = _markdown().render
    labels = ", ".join(issue.labels) or "-"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>#{issue.number} {escape(issue.title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>#{issue.number} {escape(issue.title)}</h1>",
        f"<p>State: <strong>{escape(issue.state)}</strong> · labels: {escape(labels)}"
        f" · opened {escape(issue.created_at.isoformat())}</p>",
        f'<article class="body">{render(issue.body)}</article>',
    ]
    for comment in issue.comments:
        parts += [
            '<section class="comment">',
            f"<h3>Comment, {escape(comment.created_at.isoformat())}</h3>",
            render(comment.body),
            "</section>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
