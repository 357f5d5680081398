"""The issue an incident writes: title, body, labels and the recurrence comment."""

from __future__ import annotations

from remediate.incident.models import Incident
from remediate.incident.text import issue_body, issue_labels, issue_title, recurrence_comment
from remediate.redaction import Redactor
from remediate.trackers.base import IssueDraft


def issue_draft(incident: Incident, redactor: Redactor) -> IssueDraft:
    alert = incident.alert
    return IssueDraft(
        fingerprint=alert.fingerprint,
        occurrence_key=alert.occurrence_key,
        title=issue_title(alert, redactor),
        body=issue_body(incident, redactor),
        comment=recurrence_comment(incident, redactor),
        labels=issue_labels(alert, redactor),
    )
