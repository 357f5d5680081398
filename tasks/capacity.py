"""Capacity forecasting as tasks: sampling, storing, fitting and the chart for the issue.

Nothing is cached: each scheduled run, and a run resumed after an approval, samples anew."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from remediate.capacity.collect import Sample
from remediate.capacity.config import MetricSpec
from remediate.capacity.issue import ForecastIssue, forecast_issue
from remediate.capacity.sampling import HostSamples, sample_metric, sample_service
from remediate.capacity.store import SampleStore
from remediate.capacity.stored_forecast import StoredForecast, forecast_stored
from remediate.catalog import Catalog, Service


@task(name="sample-metrics", task_run_name="sample-metrics-{service.name}", cache_policy=NO_CACHE)
async def sample_metrics(service: Service, catalog: Catalog) -> list[HostSamples]:
    """Every failure (host down, command exiting non-zero, bad value) is a sample with an
    error, never raised."""
    return await sample_service(service, catalog)


@task(
    name="sample-after-action",
    task_run_name="sample-after-action-{metric.name}",
    cache_policy=NO_CACHE,
)
async def sample_after_action(
    service: Service, metric: MetricSpec, host: str, catalog: Catalog
) -> Sample:
    return await sample_metric(service, metric, host, catalog)


@task(name="store-samples", cache_policy=NO_CACHE)
async def store_samples(store: SampleStore, service: str, samples: list[Sample]) -> int:
    """Failed samples are not stored; a sample stored before is kept once."""
    return await store.add(service, samples)


@task(name="forecast-metric", task_run_name="forecast-{metric.name}-{host}", cache_policy=NO_CACHE)
async def forecast_metric(
    store: SampleStore, service: str, metric: MetricSpec, host: str, now: datetime
) -> StoredForecast | None:
    return await forecast_stored(store, service, metric, host, now)


@task(name="render-forecast-chart", cache_policy=NO_CACHE)
def render_forecast_issue(
    service: str, metric: MetricSpec, host: str, stored: StoredForecast, now: datetime
) -> ForecastIssue:
    return forecast_issue(service, metric, host, stored.forecast, stored.series, now)
