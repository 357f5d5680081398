"""One "recurring problem" issue per finding: evidence, a chart, a suggested catalog change."""

from __future__ import annotations

from datetime import datetime

from matplotlib.figure import Figure

from remediate.catalog import Catalog
from remediate.markdown import inline
from remediate.patterns.detect import Finding, Kind
from remediate.reporting.charts import png
from remediate.reporting.history import RunRecord
from remediate.reporting.mermaid import xychart
from remediate.trackers.base import IssueDraft
from remediate.trackers.charted import ChartedIssue, daily_draft

EVIDENCE_ROWS = 20
TITLES = {
    Kind.RECURRING: "keeps recurring",
    Kind.FLAPPING: "flaps",
    Kind.INCREASING: "fires more and more often",
    Kind.NOISE: "always resolves by itself",
}


def suggestion(finding: Finding, catalog: Catalog) -> str:
    attempts, interval = catalog.verification.attempts, catalog.verification.interval_s
    check = inline(finding.check or "?", 200)
    if finding.kind is Kind.NOISE:
        return (
            f"Every run found the service healthy again. Suggested change: tune check `{check}`"
            " at the monitor (its threshold or duration), or send it with a lower severity whose"
            " `policy` skips diagnosis and issues, e.g. `policy: {warning: {diagnose: false,"
            " collect_logs: false, open_issue: false, propose_fix: false}}`."
        )
    if finding.kind is Kind.FLAPPING:
        return (
            f"Verification alternates between confirmed and recovered. Suggested change: verify"
            f" over a longer span than now ({attempts} attempts, {interval:g} s apart), e.g."
            f" `verification: {{attempts: {min(20, attempts * 2)}, interval_s:"
            f" {max(interval * 2, 10):g}}}`, and look for a resource on the edge."
        )
    if finding.kind is Kind.INCREASING:
        return (
            "The problem is getting worse. Suggested change: give the service a repository in"
            " the catalog so fixes can be proposed, or add a `metrics:` entry that forecasts the"
            " resource behind it."
        )
    return (
        f"The same problem came back {finding.occurrences} times; the root cause is still there."
        " Suggested change: treat it as a problem ticket, and give the service a repository in"
        " the catalog (`services[].repository`) so a fix can be proposed."
    )


def chart(finding: Finding) -> bytes:
    figure = Figure(figsize=(7, 2.6))
    axes = figure.subplots()
    axes.bar(
        [d.strftime("%m-%d") for d, _ in finding.daily],
        [n for _, n in finding.daily],
        color="#8e44ad",
    )
    axes.set_ylabel("occurrences")
    axes.set_title(f"{finding.check or finding.fingerprint}: per day")
    axes.tick_params(axis="x", labelrotation=30, labelsize="small")
    return png(figure)


def daily_block(finding: Finding) -> str:
    """Occurrences per day as a bar chart GitHub draws."""
    return xychart(
        f"{finding.check or finding.fingerprint}: per day",
        [f"{d:%m-%d}" for d, _ in finding.daily],
        [],
        "occurrences",
        bars=[float(n) for _, n in finding.daily],
    )


def _row(run: RunRecord) -> str:
    verdict = "self-resolved" if run.self_resolved else (run.verdict or "-")
    issue = "yes" if run.issue_at else "-"
    created = f"{run.created:%Y-%m-%d %H:%M:%S}"
    return f"| {created} | {verdict} | {run.occurrences} | {issue} | `{run.id}` |"


def fingerprint(finding: Finding) -> str:
    return f"pattern:{finding.kind.value}:{finding.fingerprint}"[:128]


def evidence(finding: Finding) -> str:
    rows = finding.runs[-EVIDENCE_ROWS:]
    lines = [
        f"**{finding.kind.value}**: {inline(finding.detail, 300)}",
        "",
        "| run created (UTC) | verdict | occurrences | issue | flow run |",
        "|---|---|---:|---|---|",
        *(_row(r) for r in rows),
    ]
    if len(finding.runs) > len(rows):
        lines.append(f"\n({len(finding.runs) - len(rows)} earlier runs not shown)")
    return "\n".join(lines)


def draft(finding: Finding, catalog: Catalog, chart_link: str | None, now: datetime) -> IssueDraft:
    """``chart_link``: the PNG, for trackers that can show a local file."""
    name = inline(finding.check or finding.fingerprint, 150)
    service = inline(finding.service or "unknown service", 100)
    key = fingerprint(finding)
    body = "\n".join(
        [
            f"## Recurring problem: `{name}` on {service} {TITLES[finding.kind]}",
            "",
            evidence(finding),
            "",
            daily_block(finding),
            "",
            *([f"![occurrences per day]({chart_link})", ""] if chart_link else []),
            "### Suggested catalog change",
            "",
            suggestion(finding, catalog),
            "",
            f"Alert fingerprint: `{finding.fingerprint}`. Found by the alert-patterns flow.",
        ]
    )
    labels = ["remediate", "recurring-problem", f"pattern:{finding.kind.value}"]
    if finding.service:
        labels.append(f"service:{finding.service}")
    title = f"[recurring] {service}: {name} {TITLES[finding.kind]}"
    comment = f"Still {finding.kind.value} on {now:%Y-%m-%d}:\n\n{evidence(finding)}"
    return daily_draft(key, now, title, body, comment, labels)


class FindingIssue(ChartedIssue):
    finding: Finding
    catalog: Catalog

    def issue_draft(self, chart_link: str | None) -> IssueDraft:
        return draft(self.finding, self.catalog, chart_link, self.now)


def finding_issue(finding: Finding, catalog: Catalog, now: datetime) -> FindingIssue:
    return FindingIssue(
        kind="pattern",
        fingerprint=fingerprint(finding),
        subject=f"{finding.kind.value} {finding.check}",
        summary=evidence(finding),
        description=f"{finding.kind.value} {finding.check or finding.fingerprint}",
        chart_alt="occurrences per day",
        png=chart(finding),
        now=now,
        finding=finding,
        catalog=catalog,
    )
