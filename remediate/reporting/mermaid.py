"""Charts as Mermaid ``xychart-beta`` blocks: GitHub draws them in issue bodies, where a
PNG in the data directory cannot be shown."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_POINTS = 60
_UNSAFE = re.compile(r'["`\\\[\]\n\r\t{}<>]')


@dataclass(frozen=True)
class Line:
    name: str
    values: list[float]


def _text(value: str, limit: int = 80) -> str:
    return '"' + _UNSAFE.sub(" ", value)[:limit].strip() + '"'


def number(value: float) -> str:
    """Plain decimal (Mermaid reads no exponent), at most 4 decimals."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def thin(count: int, limit: int = MAX_POINTS) -> list[int]:
    """Indexes of at most ``limit`` evenly spread points, the first and last always kept."""
    if count <= limit:
        return list(range(count))
    step = (count - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def xychart(
    title: str,
    labels: list[str],
    lines: list[Line],
    y_label: str,
    bars: list[float] | None = None,
) -> str:
    """A fenced ``mermaid`` block; the legend (which Mermaid does not draw) follows it."""
    values = [v for line in lines for v in line.values] + list(bars or [])
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    low = min(low, 0.0) if low >= 0 and high > 0 and low < high * 0.5 else low
    if high <= low:
        high = low + 1
    body = [
        "```mermaid",
        "xychart-beta",
        f"    title {_text(title)}",
        f"    x-axis [{', '.join(_text(label, 24) for label in labels)}]",
        f"    y-axis {_text(y_label, 40)} {number(low)} --> {number(high)}",
    ]
    if bars is not None:
        body.append(f"    bar [{', '.join(number(v) for v in bars)}]")
    body += [f"    line [{', '.join(number(v) for v in line.values)}]" for line in lines]
    body.append("```")
    if lines:
        body += ["", "Lines, in order: " + ", ".join(line.name for line in lines) + "."]
    return "\n".join(body)
