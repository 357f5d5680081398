"""A metric's stored series over its window and the forecast fitted to it."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from remediate.capacity.config import MetricSpec
from remediate.capacity.forecast import Forecast, forecast
from remediate.capacity.store import SampleStore, Series


class StoredForecast(BaseModel):
    model_config = ConfigDict(frozen=True)

    series: Series
    forecast: Forecast


async def forecast_stored(
    store: SampleStore, service: str, metric: MetricSpec, host: str, now: datetime
) -> StoredForecast | None:
    """None while the window holds fewer samples than the metric's ``min_samples``."""
    since = now - timedelta(hours=metric.window_hours)
    series = await store.series(service, metric.name, host, since)
    if len(series) < metric.min_samples:
        return None
    horizon = timedelta(hours=metric.horizon_hours)
    return StoredForecast(series=series, forecast=forecast(series, metric.threshold, horizon, now))
