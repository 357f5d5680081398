"""Hourly: find recurring, flapping, increasing and noisy alerts; one issue per finding."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.settings import get_current_settings
from pydantic import BaseModel, ConfigDict

from remediate.catalog import load_catalog
from remediate.patterns.detect import Kind, Thresholds, find_patterns
from remediate.patterns.issue import chart, draft, evidence, fingerprint
from remediate.reporting.charts import data_uri
from remediate.reporting.history import History
from remediate.settings import get_settings
from remediate.trackers import LocalTracker, TrackerConfigError, make_tracker
from remediate.trackers.errors import TrackerError
from remediate.trackers.models import IssueRef


class IssuesNotWritten(RuntimeError):
    """Findings whose issue could not be written (the run fails after trying them all)."""


class PatternIssue(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Kind
    fingerprint: str
    detail: str
    issue: IssueRef


@flow(name="alert-patterns")
async def alert_patterns(
    window_hours: float = 168.0, thresholds: Thresholds | None = None
) -> list[PatternIssue]:
    limits = thresholds or Thresholds()
    api_url = get_current_settings().api.url
    if not api_url:
        raise RuntimeError("PREFECT_API_URL is not set; patterns come from the server's history")
    catalog = load_catalog()
    settings = get_settings()
    until = datetime.now(UTC)
    since = until - timedelta(hours=window_hours)
    async with History(api_url) as history:
        records = await history.records(since, until)
    logger = get_run_logger()
    results = []
    failed: list[str] = []
    for finding in find_patterns(records, since, until, limits):
        png = chart(finding)
        name = hashlib.sha256(fingerprint(finding).encode()).hexdigest()[:16]
        path = settings.data_dir / "charts" / f"pattern-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        try:
            tracker = make_tracker(catalog, catalog.service(finding.service), settings)
            link = path.as_uri() if isinstance(tracker, LocalTracker) else None
            issue = tracker.open_or_update(draft(finding, catalog, link, until), until)
        except (TrackerError, TrackerConfigError) as exc:
            failed.append(f"{finding.kind.value} {finding.check}: issue not written: {exc}")
            logger.error("%s", failed[-1])
            continue
        logger.info(
            "%s %s: issue #%s %s",
            finding.kind.value,
            finding.check,
            issue.number,
            issue.action.value,
        )
        await acreate_markdown_artifact(
            key=f"pattern-{name}",
            markdown=evidence(finding) + f"\n\n![occurrences per day]({data_uri(png)})\n",
            description=f"{finding.kind.value} {finding.check or finding.fingerprint}",
        )
        results.append(
            PatternIssue(
                kind=finding.kind,
                fingerprint=finding.fingerprint,
                detail=finding.detail,
                issue=issue,
            )
        )
    if failed:
        raise IssuesNotWritten("; ".join(failed))
    return results
