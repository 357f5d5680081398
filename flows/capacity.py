"""Sample the catalog's metrics, fit their trend, open a proactive issue before a threshold."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger

from flows.stages.capacity_actions import act_on_forecast, proposal_key
from remediate.capacity.config import MetricSpec
from remediate.capacity.issue import after_action_text, fingerprint
from remediate.capacity.results import MetricForecast
from remediate.capacity.store import SampleStore, open_sample_store
from remediate.catalog import Catalog, Service, load_catalog
from remediate.settings import get_settings
from tasks.capacity import (
    forecast_metric,
    render_forecast_issue,
    sample_after_action,
    sample_metrics,
    store_samples,
)
from tasks.trackers import record_on_issue, write_issue_with_chart


class IssuesNotWritten(RuntimeError):
    """Forecasts inside the horizon whose issue could not be written (the run fails)."""


async def _forecast(
    found: MetricForecast,
    service: Service,
    metric: MetricSpec,
    catalog: Catalog,
    store: SampleStore,
    now: datetime,
) -> MetricForecast:
    """The forecast once enough samples are stored; the issue when it is inside the horizon."""
    stored = await forecast_metric(store, service.name, metric, found.host, now)
    if stored is None:
        return found
    if not stored.forecast.inside_horizon:
        return found.model_copy(update={"forecast": stored.forecast})
    issue = render_forecast_issue(service.name, metric, found.host, stored, now)
    written = await write_issue_with_chart(catalog, service, issue)
    return found.model_copy(
        update={"forecast": stored.forecast, "issue": written.issue, "issue_error": written.error}
    )


async def _forecast_service(
    service: Service, catalog: Catalog, store: SampleStore, now: datetime
) -> list[MetricForecast]:
    logger = get_run_logger()
    results = []
    for sampled in await sample_metrics(service, catalog):
        await store_samples(store, service.name, sampled.samples)
        for metric, sample in sampled.pairs():
            if sample.error:
                logger.warning(
                    "%s %s on %s: %s", service.name, metric.name, sampled.host, sample.error
                )
            found = MetricForecast(
                service=service.name, metric=metric.name, host=sampled.host, sample=sample
            )
            results.append(await _forecast(found, service, metric, catalog, store, now))
    return results


async def _act(
    result: MetricForecast, catalog: Catalog, store: SampleStore, now: datetime
) -> MetricForecast:
    """The runbook action the metric names, when its issue is written, then a fresh sample
    of the metric noted on the issue."""
    service = catalog.service(result.service)
    metric = (
        next((m for m in service.metrics if m.name == result.metric), None) if service else None
    )
    issue = result.issue
    if service is None or metric is None or metric.action is None or issue is None:
        return result
    print_fp = fingerprint(service.name, metric, result.host)
    outcome = await act_on_forecast(service, metric, catalog, issue, print_fp, store, now)
    if outcome is None or outcome.run is None:
        return result.model_copy(update={"action": outcome})
    after = await sample_after_action(service, metric, result.host, catalog)
    await store_samples(store, service.name, [after])
    record_on_issue(
        catalog,
        service,
        issue,
        f"{proposal_key(print_fp, outcome.proposal.action, now)}:after",
        after_action_text(metric, result.host, after, catalog.redactor()),
    )
    return result.model_copy(update={"action": outcome})


@flow(name="capacity-forecast")
async def capacity_forecast() -> list[MetricForecast]:
    """Samples and issues first, for every service; then the actions forecasts name, which
    may suspend the run for approval (a resumed run starts again from the top)."""
    catalog = load_catalog()
    settings = get_settings()
    now = datetime.now(UTC)
    results: list[MetricForecast] = []
    async with open_sample_store(settings.outbox_url, settings.data_dir) as store:
        for service in catalog.services:
            if service.metrics:
                results += await _forecast_service(service, catalog, store, now)
        results = [await _act(result, catalog, store, now) for result in results]
    failed = [r.issue_error for r in results if r.issue_error]
    if failed:
        raise IssuesNotWritten("; ".join(failed))
    return results
