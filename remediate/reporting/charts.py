"""PNG charts of the remediation report, embeddable as data: URIs (the Prefect UI shows them)."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure

from remediate.reporting.metrics import ALERT_TO_ISSUE_TARGET_S, RemediationReport


def png(figure: Figure) -> bytes:
    """Figures are built without pyplot: no global state, no GUI backend."""
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def daily_alerts(report: RemediationReport) -> bytes:
    figure = Figure(figsize=(7, 3))
    axes = figure.subplots()
    labels = [d.day.isoformat() for d in report.days]
    resolved = [d.self_resolved for d in report.days]
    confirmed = [d.confirmed for d in report.days]
    other = [d.runs - d.self_resolved - d.confirmed for d in report.days]
    axes.bar(labels, confirmed, label="confirmed", color="#c0392b")
    axes.bar(labels, resolved, bottom=confirmed, label="self-resolved", color="#27ae60")
    base = [c + r for c, r in zip(confirmed, resolved, strict=True)]
    axes.bar(labels, other, bottom=base, label="other", color="#95a5a6")
    axes.set_ylabel("remediation runs")
    axes.set_title("Alerts per day")
    axes.legend(loc="upper left", fontsize="small")
    axes.tick_params(axis="x", labelrotation=30, labelsize="small")
    return png(figure)


def alert_to_issue(report: RemediationReport) -> bytes:
    figure = Figure(figsize=(7, 3))
    axes = figure.subplots()
    values = sorted(report.alert_to_issue_s)
    axes.plot(range(1, len(values) + 1), values, marker="o", color="#2c3e50")
    axes.axhline(ALERT_TO_ISSUE_TARGET_S, color="#c0392b", linestyle="--", label="target 120 s")
    axes.set_xlabel("runs with an issue, fastest first")
    axes.set_ylabel("seconds")
    axes.set_title("Alert to issue")
    axes.legend(loc="upper left", fontsize="small")
    return png(figure)


def fix_funnel(report: RemediationReport) -> bytes:
    keys = [
        "fix_sessions",
        "proposals",
        "sent_for_approval",
        "approved",
        "rejected",
        "timed_out",
        "pull_requests",
    ]
    figures = [report.figure(k) for k in keys]
    figure = Figure(figsize=(7, 3))
    axes = figure.subplots()
    axes.barh([f.label for f in figures], [f.value or 0 for f in figures], color="#2980b9")
    axes.invert_yaxis()
    axes.set_xlabel("runs")
    axes.set_title("Fix proposals")
    return png(figure)
