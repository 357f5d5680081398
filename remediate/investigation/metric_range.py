"""A catalog Prometheus metric over a bounded recent range (``/api/v1/query_range``).

Only the catalog's own query of a ``prometheus`` metric is sent; the model chooses the
metric by name, how many minutes back and the step, each bounded, and the number of
points (minutes x 60 / step) must stay within the configured cap. The answer is a few
lines of text: per series (at most ``MAX_SERIES``) its labels, minimum, maximum, last
value and the points, newest last.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import httpx

from remediate.capacity.config import MetricSpec

MAX_SERIES = 5


class RangeError(Exception):
    """The query could not be answered; the message says why."""


def _series_text(series: object, max_points: int) -> list[str]:
    if not isinstance(series, dict):
        raise RangeError("malformed series in the answer")
    labels = series.get("metric") or {}
    values = series.get("values")
    if not isinstance(labels, dict) or not isinstance(values, list):
        raise RangeError("malformed series in the answer")
    points: list[tuple[datetime, float]] = []
    for pair in values[-max_points:]:
        if not isinstance(pair, list) or len(pair) != 2:
            raise RangeError("malformed point in the answer")
        try:
            at = datetime.fromtimestamp(float(pair[0]), UTC)
            value = float(str(pair[1]))
        except (TypeError, ValueError, OverflowError):
            raise RangeError("malformed point in the answer") from None
        points.append((at, value))
    shown = ",".join(f"{k}={v}" for k, v in sorted(labels.items())[:10]) or "no labels"
    if not points:
        return [f"series {{{shown}}}: no points"]
    finite = [v for _, v in points if math.isfinite(v)]
    low = f"{min(finite):g}" if finite else "-"
    high = f"{max(finite):g}" if finite else "-"
    lines = [
        f"series {{{shown}}}: {len(points)} points, min {low}, max {high}, "
        f"last {points[-1][1]:g} at {points[-1][0].isoformat()}"
    ]
    lines += [f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')} {value:g}" for at, value in points]
    return lines


async def read_range(
    metric: MetricSpec,
    minutes: int,
    step_s: int,
    max_points: int,
    now: datetime | None = None,
    timeout: float = 10.0,
) -> str:
    """The metric's catalog query over the last ``minutes``, one point per ``step_s``."""
    if metric.kind != "prometheus" or metric.url is None or metric.query is None:
        raise RangeError(f"metric {metric.name} is not a Prometheus metric")
    end = now or datetime.now(UTC)
    start = end - timedelta(minutes=minutes)
    base = str(metric.url).rstrip("/")
    params = {
        "query": metric.query,
        "start": f"{start.timestamp():.3f}",
        "end": f"{end.timestamp():.3f}",
        "step": str(step_s),
    }
    try:
        async with httpx.AsyncClient(
            timeout=timeout, trust_env=False, follow_redirects=False
        ) as client:
            response = await client.get(f"{base}/api/v1/query_range", params=params)
        body = response.json()
    except httpx.HTTPError as exc:
        raise RangeError(f"{type(exc).__name__}: {exc}") from None
    except ValueError:
        raise RangeError(f"HTTP {response.status_code}, not JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(data, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise RangeError(f"query failed (HTTP {response.status_code}): {str(error or body)[:200]}")
    result = data.get("result")
    if data.get("resultType") != "matrix" or not isinstance(result, list):
        raise RangeError(f"unexpected result type {data.get('resultType')!r}")
    head = (
        f"metric {metric.name} from {start.isoformat(timespec='seconds')} "
        f"to {end.isoformat(timespec='seconds')}, step {step_s} s, "
        f"{len(result)} series (threshold {metric.threshold:g})"
    )
    lines = [head]
    for series in result[:MAX_SERIES]:
        lines += _series_text(series, max_points)
    if len(result) > MAX_SERIES:
        lines.append(f"[{len(result) - MAX_SERIES} more series not shown]")
    return "\n".join(lines)
