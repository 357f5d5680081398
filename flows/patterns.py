"""Hourly: find recurring, flapping, increasing and noisy alerts; one issue per finding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow
from prefect.settings import get_current_settings

from remediate.catalog import load_catalog
from remediate.patterns.detect import Thresholds
from remediate.patterns.results import PatternIssue
from tasks.patterns import find_alert_patterns, read_alert_history, render_pattern_issue
from tasks.trackers import write_issue_with_chart


class IssuesNotWritten(RuntimeError):
    """Findings whose issue could not be written (the run fails after trying them all)."""


@flow(name="alert-patterns")
async def alert_patterns(
    window_hours: float = 168.0, thresholds: Thresholds | None = None
) -> list[PatternIssue]:
    limits = thresholds or Thresholds()
    api_url = get_current_settings().api.url
    if not api_url:
        raise RuntimeError("PREFECT_API_URL is not set; patterns come from the server's history")
    catalog = load_catalog()
    until = datetime.now(UTC)
    since = until - timedelta(hours=window_hours)
    records = await read_alert_history(api_url, since, until)
    results = []
    failed: list[str] = []
    for finding in find_alert_patterns(records, since, until, limits):
        issue = render_pattern_issue(finding, catalog, until)
        written = await write_issue_with_chart(catalog, catalog.service(finding.service), issue)
        if written.error is not None:
            failed.append(written.error)
        if written.issue is not None:
            results.append(
                PatternIssue(
                    kind=finding.kind,
                    fingerprint=finding.fingerprint,
                    detail=finding.detail,
                    issue=written.issue,
                )
            )
    if failed:
        raise IssuesNotWritten("; ".join(failed))
    return results
