"""A trend robust to outliers (Theil-Sen) and the time it leaves before a threshold."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from pydantic import BaseModel, ConfigDict


class Trend(BaseModel):
    model_config = ConfigDict(frozen=True)

    slope_per_s: float
    intercept: float
    origin: datetime

    def at(self, when: datetime) -> float:
        return self.intercept + self.slope_per_s * (when - self.origin).total_seconds()


class Forecast(BaseModel):
    model_config = ConfigDict(frozen=True)

    samples: int
    current: float
    fitted_now: float
    slope_per_hour: float
    threshold: float
    time_to_threshold_s: float | None
    breach_at: datetime | None
    inside_horizon: bool


def theil_sen(series: list[tuple[datetime, float]]) -> Trend:
    """Median of all pairwise slopes; intercept the median of the residual offsets."""
    if len(series) < 2:
        raise ValueError("a trend needs at least two samples")
    origin = series[0][0]
    t = np.array([(when - origin).total_seconds() for when, _ in series])
    v = np.array([value for _, value in series])
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    keep = dt > 0
    if not keep.any():
        raise ValueError("a trend needs samples at two different times")
    slope = float(np.median((v[j] - v[i])[keep] / dt[keep]))
    intercept = float(np.median(v - slope * t))
    return Trend(slope_per_s=slope, intercept=intercept, origin=origin)


def forecast(
    series: list[tuple[datetime, float]], threshold: float, horizon: timedelta, now: datetime
) -> Forecast:
    trend = theil_sen(series)
    fitted = trend.at(now)
    if fitted >= threshold:
        left: float | None = 0.0
    elif trend.slope_per_s > 0:
        left = (threshold - fitted) / trend.slope_per_s
    else:
        left = None
    breach = now + timedelta(seconds=left) if left is not None else None
    return Forecast(
        samples=len(series),
        current=series[-1][1],
        fitted_now=fitted,
        slope_per_hour=trend.slope_per_s * 3600,
        threshold=threshold,
        time_to_threshold_s=left,
        breach_at=breach,
        inside_horizon=left is not None and left <= horizon.total_seconds(),
    )
