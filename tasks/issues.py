"""Open one tracker issue per fingerprint, or comment on it when the alert comes back."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import task
from prefect.tasks import exponential_backoff

from remediate.alerts import Alert
from remediate.catalog import Catalog
from remediate.diagnosis.models import Diagnosis, Verification
from remediate.evidence.models import LogBundle
from remediate.incident.models import Occurrences
from remediate.incident.text import incident_report, issue_labels, issue_title, recurrence_comment
from remediate.settings import get_settings
from remediate.trackers import IssueDraft, make_tracker
from remediate.trackers.errors import worth_retrying
from remediate.trackers.models import IssueRef
from tasks.logs import catalog_redactor


@task(
    name="open-or-update-issue",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=worth_retrying,
)
def open_or_update_issue(
    alert: Alert,
    catalog: Catalog,
    verification: Verification | None,
    diagnosis: Diagnosis | None,
    run_url: str | None,
    logs: LogBundle | None = None,
    occurrences: Occurrences | None = None,
) -> IssueRef:
    """Idempotent per occurrence: a retry finds the write it already made."""
    redactor = catalog_redactor(catalog)
    tracker = make_tracker(catalog, catalog.service(alert.service), get_settings())
    draft = IssueDraft(
        fingerprint=alert.fingerprint,
        occurrence_key=alert.occurrence_key,
        title=issue_title(alert, redactor),
        body=incident_report(
            alert,
            verification,
            diagnosis,
            run_url,
            logs,
            redactor=redactor,
            occurrences=occurrences,
        ),
        comment=recurrence_comment(
            alert,
            verification,
            diagnosis,
            run_url,
            logs,
            redactor=redactor,
            occurrences=occurrences,
        ),
        labels=issue_labels(alert),
    )
    return tracker.open_or_update(draft, datetime.now(UTC))
