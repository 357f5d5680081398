"""The proactive issue for a metric heading for its threshold, with the series chart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from matplotlib.figure import Figure

from remediate.capacity.collect import Sample
from remediate.capacity.config import MetricSpec
from remediate.capacity.forecast import Forecast, theil_sen
from remediate.markdown import inline
from remediate.reporting.charts import png
from remediate.reporting.mermaid import Line, thin, xychart
from remediate.trackers.base import IssueDraft
from remediate.trackers.charted import ChartedIssue, daily_draft


def fingerprint(service: str, metric: MetricSpec, host: str) -> str:
    return f"capacity:{service}:{metric.name}:{host}"[:128]


def amount(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "bytes":
        return f"{value:,.0f} bytes"
    return f"{value:g}"


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def chart(series: list[tuple[datetime, float]], metric: MetricSpec, result: Forecast) -> bytes:
    trend = theil_sen(series)
    figure = Figure(figsize=(7, 3))
    axes = figure.subplots()
    start = series[0][0]

    def hours(when: datetime) -> float:
        return (when - start).total_seconds() / 3600

    axes.plot([hours(t) for t, _ in series], [v for _, v in series], ".", label="samples")
    end = max(result.breach_at or series[-1][0], series[-1][0])
    axes.plot([0, hours(end)], [trend.at(start), trend.at(end)], color="#c0392b", label="trend")
    axes.set_xlabel(f"hours since {start:%Y-%m-%d %H:%M} UTC")
    axes.axhline(metric.threshold, color="#7f8c8d", linestyle="--", label="threshold")
    axes.set_title(metric.name)
    axes.set_ylabel(metric.unit or "value")
    axes.legend(loc="upper left", fontsize="small")
    return png(figure)


def series_block(series: list[tuple[datetime, float]], metric: MetricSpec, host: str) -> str:
    """The samples, the fitted trend and the threshold as a chart GitHub draws."""
    trend = theil_sen(series)
    picked = [series[i] for i in thin(len(series))]
    same_day = picked[0][0].date() == picked[-1][0].date()
    labels = [f"{t:%H:%M:%S}" if same_day else f"{t:%m-%d %H:%M}" for t, _ in picked]
    lines = [
        Line("samples", [v for _, v in picked]),
        Line("trend (Theil-Sen)", [trend.at(t) for t, _ in picked]),
        Line("threshold", [metric.threshold] * len(picked)),
    ]
    title = f"{metric.name} on {host}"
    return xychart(title, labels, lines, f"{metric.unit or 'value'} (UTC times)")


def after_action_text(
    metric: MetricSpec, host: str, sample: Sample, redact: Callable[[str], str]
) -> str:
    """The fresh sample taken once the metric's runbook action has run."""
    measured = (
        amount(sample.value, metric.unit)
        if sample.value is not None
        else redact(f"no value: {sample.error}")
    )
    return (
        f"`{metric.name}` on `{host}` after the action: {measured}"
        f" (threshold {amount(metric.threshold, metric.unit)})."
    )


def forecast_text(metric: MetricSpec, host: str, result: Forecast) -> str:
    left = result.time_to_threshold_s
    when = (
        f"in about **{_duration(left)}** ({result.breach_at:%Y-%m-%d %H:%M} UTC)"
        if left is not None and result.breach_at is not None
        else "not on the current trend"
    )
    return "\n".join(
        [
            f"| metric | `{inline(metric.name, 100)}` ({metric.kind}) on host "
            f"`{inline(host, 100)}` |",
            "|---|---|",
            f"| now (fitted) | {amount(result.fitted_now, metric.unit)} |",
            f"| last sample | {amount(result.current, metric.unit)} |",
            f"| trend | {amount(result.slope_per_hour, metric.unit)} per hour |",
            f"| threshold | {amount(result.threshold, metric.unit)} |",
            f"| samples in fit | {result.samples} |",
            "",
            f"Threshold reached {when}.",
        ]
    )


def draft(
    service: str,
    metric: MetricSpec,
    host: str,
    result: Forecast,
    series: list[tuple[datetime, float]],
    chart_link: str | None,
    now: datetime,
) -> IssueDraft:
    """``chart_link``: the PNG, for trackers that can show a local file."""
    print_fp = fingerprint(service, metric, host)
    text = forecast_text(metric, host, result)
    picture = [f"![series and trend]({chart_link})", ""] if chart_link else []
    body = "\n".join(
        [
            f"## {inline(metric.name, 100)} on {inline(service, 100)} is heading for its threshold",
            "",
            text,
            "",
            series_block(series, metric, host),
            "",
            *picture,
            f"Horizon: {metric.horizon_hours:g} h. Forecast by the capacity-forecast flow.",
        ]
    )
    title = f"[capacity] {service}: {metric.name} reaches its threshold"
    comment = f"Forecast of {now:%Y-%m-%d %H:%M} UTC:\n\n{text}"
    labels = ["remediate", "capacity", f"service:{service}"]
    return daily_draft(print_fp, now, title, body, comment, labels)


class ForecastIssue(ChartedIssue):
    service: str
    metric: MetricSpec
    host: str
    forecast: Forecast
    series: list[tuple[datetime, float]]

    def issue_draft(self, chart_link: str | None) -> IssueDraft:
        return draft(
            self.service, self.metric, self.host, self.forecast, self.series, chart_link, self.now
        )


def forecast_issue(
    service: str,
    metric: MetricSpec,
    host: str,
    result: Forecast,
    series: list[tuple[datetime, float]],
    now: datetime,
) -> ForecastIssue:
    return ForecastIssue(
        kind="capacity",
        fingerprint=fingerprint(service, metric, host),
        subject=f"{service} {metric.name}",
        summary=forecast_text(metric, host, result),
        description=f"{service} {metric.name} on {host}",
        chart_alt="series and trend",
        png=chart(series, metric, result),
        now=now,
        service=service,
        metric=metric,
        host=host,
        forecast=result,
        series=series,
    )
