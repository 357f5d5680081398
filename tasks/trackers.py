"""Tracker writes as tasks: the incident issue and one-off comments on it.

Every write is keyed, so a retry or a resumed run finds the write it already made."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import task
from prefect.tasks import exponential_backoff

from remediate.catalog import Catalog, Service
from remediate.incident.models import Incident
from remediate.incident.text import issue_body, issue_labels, issue_title, recurrence_comment
from remediate.runs.cache import PER_FLOW_RUN
from remediate.settings import get_settings
from remediate.trackers import IssueDraft, make_tracker
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
    redactor = catalog.redactor()
    alert = incident.alert
    tracker = make_tracker(catalog, incident.service, get_settings())
    draft = IssueDraft(
        fingerprint=alert.fingerprint,
        occurrence_key=alert.occurrence_key,
        title=issue_title(alert, redactor),
        body=issue_body(incident, redactor),
        comment=recurrence_comment(incident, redactor),
        labels=issue_labels(alert),
    )
    return tracker.open_or_update(draft, datetime.now(UTC))


@task(name="record-on-issue")
def record_on_issue(
    catalog: Catalog, service: Service | None, issue: IssueRef, key: str, text: str
) -> bool:
    """Comment once per ``key``; a re-run finds the comment and writes nothing."""
    return make_tracker(catalog, service, get_settings()).add_comment(issue.number, key, text)
