"""Sample the catalog's metrics, fit their trend, open a proactive issue before a threshold."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from pydantic import BaseModel, ConfigDict

from flows.stages.capacity_actions import act_on_forecast, proposal_key
from remediate.actions.models import ActionOutcome
from remediate.capacity.collect import PROMETHEUS_HOST, Sample, sample_host, sample_prometheus
from remediate.capacity.config import MetricSpec
from remediate.capacity.forecast import Forecast, forecast
from remediate.capacity.issue import amount, chart, draft, fingerprint, forecast_text
from remediate.capacity.store import SampleStore, open_sample_store
from remediate.catalog import Catalog, Service, load_catalog
from remediate.reporting.charts import data_uri
from remediate.settings import get_settings
from remediate.trackers import LocalTracker, TrackerConfigError, make_tracker
from remediate.trackers.errors import TrackerError
from remediate.trackers.models import IssueRef
from tasks.trackers import record_on_issue


class MetricForecast(BaseModel):
    model_config = ConfigDict(frozen=True)

    service: str
    metric: str
    host: str
    sample: Sample
    forecast: Forecast | None = None
    issue: IssueRef | None = None
    issue_error: str | None = None
    action: ActionOutcome | None = None


class IssuesNotWritten(RuntimeError):
    """Forecasts inside the horizon whose issue could not be written (the run fails)."""


def _by_host(service: Service) -> dict[str, list[MetricSpec]]:
    groups: dict[str, list[MetricSpec]] = {}
    for metric in service.metrics:
        if metric.over_ssh:
            groups.setdefault(metric.host or service.hosts[0].name, []).append(metric)
    return groups


async def _sample_all(
    service: Service, catalog: Catalog
) -> list[tuple[str, list[MetricSpec], list[Sample]]]:
    hosts = {h.name: h for h in service.hosts}
    groups = list(_by_host(service).items())
    queried = [m for m in service.metrics if not m.over_ssh]
    over_ssh, over_http = await asyncio.gather(
        asyncio.gather(*(sample_host(hosts[h], ms, catalog.evidence) for h, ms in groups)),
        asyncio.gather(*(sample_prometheus(m) for m in queried)),
    )
    redact = catalog.redactor()
    found = [
        (h, ms, [_redacted(s, redact) for s in samples])
        for (h, ms), samples in zip(groups, over_ssh, strict=True)
    ]
    found += [
        (PROMETHEUS_HOST, [m], [_redacted(a, redact)])
        for m, a in zip(queried, over_http, strict=True)
    ]
    return found


def _redacted(sample: Sample, redact: Callable[[str], str]) -> Sample:
    """A failed sample's error quotes remote output; it is stored and logged redacted."""
    return sample.model_copy(update={"error": redact(sample.error)}) if sample.error else sample


async def _sample_again(
    service: Service, metric: MetricSpec, host: str, catalog: Catalog
) -> Sample:
    redact = catalog.redactor()
    if not metric.over_ssh:
        return _redacted(await sample_prometheus(metric), redact)
    [where] = [h for h in service.hosts if h.name == host]
    [sample] = await sample_host(where, [metric], catalog.evidence)
    return _redacted(sample, redact)


async def _act(
    result: MetricForecast,
    service: Service,
    metric: MetricSpec,
    catalog: Catalog,
    store: SampleStore,
    now: datetime,
) -> MetricForecast:
    """The metric's runbook action, then a fresh sample of the metric noted on the issue."""
    issue = result.issue
    if issue is None:
        return result
    print_fp = fingerprint(service.name, metric, result.host)
    outcome = await act_on_forecast(service, metric, catalog, issue, print_fp, store, now)
    if outcome is None or outcome.run is None:
        return result.model_copy(update={"action": outcome})
    after = await _sample_again(service, metric, result.host, catalog)
    await store.add(service.name, [after])
    measured = (
        amount(after.value, metric.unit)
        if after.value is not None
        else catalog.redactor()(f"no value: {after.error}")
    )
    record_on_issue(
        catalog,
        service,
        issue,
        f"{proposal_key(print_fp, outcome.proposal.action, now)}:after",
        f"`{metric.name}` on `{result.host}` after the action: {measured}"
        f" (threshold {amount(metric.threshold, metric.unit)}).",
    )
    return result.model_copy(update={"action": outcome})


async def _service(
    service: Service, catalog: Catalog, store: SampleStore, now: datetime
) -> list[MetricForecast]:
    logger = get_run_logger()
    settings = get_settings()
    results = []
    for host, metrics, samples in await _sample_all(service, catalog):
        await store.add(service.name, samples)
        for metric, sample in zip(metrics, samples, strict=True):
            if sample.error:
                logger.warning("%s %s on %s: %s", service.name, metric.name, host, sample.error)
            series = await store.series(
                service.name, metric.name, host, now - timedelta(hours=metric.window_hours)
            )
            if len(series) < metric.min_samples:
                results.append(
                    MetricForecast(
                        service=service.name, metric=metric.name, host=host, sample=sample
                    )
                )
                continue
            result = forecast(series, metric.threshold, timedelta(hours=metric.horizon_hours), now)
            issue = None
            if result.inside_horizon:
                png = chart(series, metric, result)
                name = hashlib.sha256(fingerprint(service.name, metric, host).encode()).hexdigest()
                path = settings.data_dir / "charts" / f"capacity-{name[:16]}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(png)
                try:
                    tracker = make_tracker(catalog, service, settings)
                    link = path.as_uri() if isinstance(tracker, LocalTracker) else None
                    issue = tracker.open_or_update(
                        draft(service.name, metric, host, result, series, link, now), now
                    )
                except (TrackerError, TrackerConfigError) as exc:
                    failed = f"{service.name} {metric.name}: issue not written: {exc}"
                    logger.error("%s", failed)
                    results.append(
                        MetricForecast(
                            service=service.name,
                            metric=metric.name,
                            host=host,
                            sample=sample,
                            forecast=result,
                            issue_error=failed,
                        )
                    )
                    continue
                logger.info(
                    "%s %s: threshold within horizon; issue #%s %s",
                    service.name,
                    metric.name,
                    issue.number,
                    issue.action.value,
                )
                await acreate_markdown_artifact(
                    key=f"capacity-{name[:16]}",
                    markdown=forecast_text(metric, host, result)
                    + f"\n\n![series and trend]({data_uri(png)})\n",
                    description=f"{service.name} {metric.name} on {host}",
                )
            results.append(
                MetricForecast(
                    service=service.name,
                    metric=metric.name,
                    host=host,
                    sample=sample,
                    forecast=result,
                    issue=issue,
                )
            )
    return results


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
                results += await _service(service, catalog, store, now)
        for index, result in enumerate(results):
            owner = catalog.service(result.service)
            metric = (
                next((m for m in owner.metrics if m.name == result.metric), None) if owner else None
            )
            if owner and metric and metric.action and result.issue:
                results[index] = await _act(result, owner, metric, catalog, store, now)
    failed = [r.issue_error for r in results if r.issue_error]
    if failed:
        raise IssuesNotWritten("; ".join(failed))
    return results
