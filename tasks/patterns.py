"""Alert patterns as tasks: the run history, the findings in it, the chart for each issue."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from remediate.catalog import Catalog
from remediate.patterns.detect import Finding, Thresholds, find_patterns
from remediate.patterns.issue import FindingIssue, finding_issue
from remediate.reporting.history import RunRecord, read_records


@task(name="read-alert-history", cache_policy=NO_CACHE)
async def read_alert_history(api_url: str, since: datetime, until: datetime) -> list[RunRecord]:
    return await read_records(api_url, since, until)


@task(name="find-patterns", cache_policy=NO_CACHE)
def find_alert_patterns(
    records: list[RunRecord], since: datetime, until: datetime, thresholds: Thresholds
) -> list[Finding]:
    return find_patterns(records, since, until, thresholds)


@task(name="render-pattern-chart", cache_policy=NO_CACHE)
def render_pattern_issue(finding: Finding, catalog: Catalog, now: datetime) -> FindingIssue:
    return finding_issue(finding, catalog, now)
