"""The remediation report as a terminal table, a Prefect table artifact and markdown."""

from __future__ import annotations

from remediate.reporting import charts
from remediate.reporting.metrics import Figure, RemediationReport

NOT_RECORDED = "not recorded"


def value_text(figure: Figure) -> str:
    if figure.value is None:
        return NOT_RECORDED if figure.note.startswith("not recorded") else "-"
    if figure.unit == "s":
        return f"{figure.value:.1f} s"
    if figure.unit == "%":
        return f"{figure.value:g} %"
    if figure.unit == "USD":
        return f"USD {figure.value:.4f}"
    return f"{figure.value:g}"


def status_text(figure: Figure) -> str:
    if figure.target is None:
        return ""
    return {True: "met", False: "MISSED", None: "no data"}[figure.met]


def table_rows(report: RemediationReport) -> list[dict[str, str]]:
    return [
        {
            "metric": f.label,
            "value": value_text(f),
            "target": f.target or "",
            "status": status_text(f),
            "note": f.note,
        }
        for f in report.figures
    ]


def terminal_table(report: RemediationReport) -> str:
    rows = table_rows(report)
    columns = ["metric", "value", "target", "status", "note"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = [
        f"Remediation report {report.since:%Y-%m-%d %H:%M} - {report.until:%Y-%m-%d %H:%M} UTC",
        "  ".join(c.ljust(widths[c]) for c in columns).rstrip(),
        "  ".join("-" * widths[c] for c in columns),
    ]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: RemediationReport) -> str:
    lines = [
        "# Remediation report",
        "",
        f"{report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC",
        "",
        "| metric | value | target | status |",
        "|---|---:|---|---|",
    ]
    lines += [
        f"| {_cell(r['metric'])} | {_cell(r['value'])} | {_cell(r['target'])} | {r['status']} |"
        for r in table_rows(report)
    ]
    lines.append("")
    if report.days:
        lines += [f"![Alerts per day]({charts.data_uri(charts.daily_alerts(report))})", ""]
    if report.alert_to_issue_s:
        lines += [f"![Alert to issue]({charts.data_uri(charts.alert_to_issue(report))})", ""]
    if report.figure("fix_sessions").value:
        lines += [f"![Fix proposals]({charts.data_uri(charts.fix_funnel(report))})", ""]
    if report.days:
        lines += [
            "## Per day",
            "",
            "| day (UTC) | alerts | runs | self-resolved | confirmed | issues | fixes proposed |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {d.day} | {d.received} | {d.runs} | {d.self_resolved} | {d.confirmed} |"
            f" {d.issues} | {d.proposals} |"
            for d in report.days
        ]
        lines.append("")
    notes = [f for f in report.figures if f.note]
    if notes:
        lines += ["## Notes", ""]
        lines += [f"- **{f.label}**: {f.note}" for f in notes]
    return "\n".join(lines) + "\n"
