"""What a capacity-forecast run found and did for one metric on one host."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from remediate.actions.models import ActionOutcome
from remediate.capacity.collect import Sample
from remediate.capacity.forecast import Forecast
from remediate.trackers.models import IssueRef


class MetricForecast(BaseModel):
    """``forecast`` is None while too few samples are stored; ``issue`` is set when the
    threshold falls inside the horizon, ``issue_error`` when that issue was not written."""

    model_config = ConfigDict(frozen=True)

    service: str
    metric: str
    host: str
    sample: Sample
    forecast: Forecast | None = None
    issue: IssueRef | None = None
    issue_error: str | None = None
    action: ActionOutcome | None = None
