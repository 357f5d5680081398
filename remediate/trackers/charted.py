"""Issues that carry a PNG chart: capacity forecasts and alert patterns.

The chart is kept in the data directory, linked from the issue body on the trackers that
can show a local file, and embedded in the run's markdown artifact."""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from remediate.catalog import Catalog, Service
from remediate.reporting.charts import data_uri
from remediate.settings import Settings
from remediate.trackers import LocalTracker, TrackerConfigError, make_tracker
from remediate.trackers.base import IssueDraft, Tracker
from remediate.trackers.errors import TrackerError
from remediate.trackers.models import IssueRef


class ChartedIssue(BaseModel):
    """``kind`` and ``fingerprint`` name the chart file and the artifact; ``subject`` names
    the issue in logs and errors; ``summary`` is the artifact's text above the chart."""

    model_config = ConfigDict(frozen=True)

    kind: str
    fingerprint: str
    subject: str
    summary: str
    description: str
    chart_alt: str
    png: bytes
    now: datetime

    @abstractmethod
    def issue_draft(self, chart_link: str | None) -> IssueDraft:
        """``chart_link``: the PNG, for trackers that can show a local file."""

    @property
    def chart_name(self) -> str:
        return f"{self.kind}-{hashlib.sha256(self.fingerprint.encode()).hexdigest()[:16]}"

    def artifact_markdown(self) -> str:
        return self.summary + f"\n\n![{self.chart_alt}]({data_uri(self.png)})\n"


def daily_draft(
    fingerprint: str, now: datetime, title: str, body: str, comment: str, labels: list[str]
) -> IssueDraft:
    """An issue updated at most once per UTC day: the day is the occurrence."""
    return IssueDraft(
        fingerprint=fingerprint,
        occurrence_key=f"{fingerprint}:{now:%Y-%m-%d}",
        title=title[:256],
        body=body,
        comment=comment,
        labels=labels,
    )


class IssueWrite(BaseModel):
    """The issue written, or why it was not."""

    model_config = ConfigDict(frozen=True)

    issue: IssueRef | None = None
    error: str | None = None


def save_chart(issue: ChartedIssue, data_dir: Path) -> Path:
    path = data_dir / "charts" / f"{issue.chart_name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(issue.png)
    return path


def chart_link(tracker: Tracker, path: Path) -> str | None:
    """Only the local tracker's issues sit beside the chart file and can link it."""
    return path.as_uri() if isinstance(tracker, LocalTracker) else None


def write_charted_issue(
    catalog: Catalog, service: Service | None, issue: ChartedIssue, settings: Settings
) -> IssueWrite:
    """The chart file is kept even when the tracker cannot be written."""
    path = save_chart(issue, settings.data_dir)
    try:
        tracker = make_tracker(catalog, service, settings)
        written = tracker.open_or_update(issue.issue_draft(chart_link(tracker, path)), issue.now)
    except (TrackerError, TrackerConfigError) as exc:
        return IssueWrite(error=f"{issue.subject}: issue not written: {exc}")
    return IssueWrite(issue=written)
