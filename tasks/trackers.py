"""Tracker writes as tasks: the incident issue, one-off comments on it, and the issues with
a chart that capacity forecasts and alert patterns write.

Every write is keyed, so a retry or a resumed run finds the write it already made."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from remediate.catalog import Catalog, Service
from remediate.incident.draft import issue_draft
from remediate.incident.models import Incident
from remediate.runs.cache import PER_FLOW_RUN
from remediate.settings import get_settings
from remediate.trackers import make_tracker
from remediate.trackers.charted import ChartedIssue, IssueWrite, write_charted_issue
from remediate.trackers.errors import worth_retrying
from remediate.trackers.models import IssueRef


@task(
    name="open-or-update-issue",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=worth_retrying,
    cache_policy=PER_FLOW_RUN,
)
def open_or_update_issue(incident: Incident, catalog: Catalog) -> IssueRef:
    """Idempotent per occurrence: a retry finds the write it already made."""
    tracker = make_tracker(catalog, incident.service, get_settings())
    draft = issue_draft(incident, catalog.redactor())
    return tracker.open_or_update(draft, datetime.now(UTC))


@task(
    name="record-on-issue",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=worth_retrying,
)
def record_on_issue(
    catalog: Catalog, service: Service | None, issue: IssueRef, key: str, text: str
) -> bool:
    """Comment once per ``key``; a re-run finds the comment and writes nothing."""
    return make_tracker(catalog, service, get_settings()).add_comment(issue.number, key, text)


@task(
    name="comment-on-issue",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_condition_fn=worth_retrying,
)
def comment_on_issue(
    catalog: Catalog, service: Service | None, number: int, key: str, text: str
) -> bool:
    """Comment once per ``key`` on issue ``number`` (known from a run's tags, not its
    ``IssueRef``); a retry finds the comment and writes nothing."""
    return make_tracker(catalog, service, get_settings()).add_comment(number, key, text)


@task(name="write-charted-issue", task_run_name="write-{issue.kind}-issue", cache_policy=NO_CACHE)
async def write_issue_with_chart(
    catalog: Catalog, service: Service | None, issue: ChartedIssue
) -> IssueWrite:
    """The issue, then the run's artifact with the chart; an issue not written is logged
    and returned, so the flow can try the others before it fails."""
    logger = get_run_logger()
    written = write_charted_issue(catalog, service, issue, get_settings())
    if written.issue is None:
        logger.error("%s", written.error)
        return written
    logger.info("%s: issue #%s %s", issue.subject, written.issue.number, written.issue.action.value)
    await acreate_markdown_artifact(
        key=issue.chart_name, markdown=issue.artifact_markdown(), description=issue.description
    )
    return written
