"""One sample of every metric of a service: over SSH, one connection per host, and from
Prometheus, all at once. A failed sample's error quotes remote output; it is redacted here,
before it is stored or logged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from remediate.capacity.collect import PROMETHEUS_HOST, Sample, sample_host, sample_prometheus
from remediate.capacity.config import MetricSpec
from remediate.catalog import Catalog, Service


class HostSamples(BaseModel):
    """The metrics sampled on one host (or Prometheus) and their samples, in order."""

    model_config = ConfigDict(frozen=True)

    host: str
    metrics: list[MetricSpec]
    samples: list[Sample]

    def pairs(self) -> list[tuple[MetricSpec, Sample]]:
        return list(zip(self.metrics, self.samples, strict=True))


def metrics_by_host(service: Service) -> dict[str, list[MetricSpec]]:
    """The metrics sampled over SSH, by host; a metric naming no host is on the first."""
    groups: dict[str, list[MetricSpec]] = {}
    for metric in service.metrics:
        if metric.over_ssh:
            groups.setdefault(metric.host or service.hosts[0].name, []).append(metric)
    return groups


def redacted(sample: Sample, redact: Callable[[str], str]) -> Sample:
    return sample.model_copy(update={"error": redact(sample.error)}) if sample.error else sample


async def sample_service(service: Service, catalog: Catalog) -> list[HostSamples]:
    hosts = {h.name: h for h in service.hosts}
    groups = list(metrics_by_host(service).items())
    queried = [m for m in service.metrics if not m.over_ssh]
    over_ssh, over_http = await asyncio.gather(
        asyncio.gather(*(sample_host(hosts[h], ms, catalog.evidence) for h, ms in groups)),
        asyncio.gather(*(sample_prometheus(m) for m in queried)),
    )
    redact = catalog.redactor()
    found = [
        HostSamples(host=h, metrics=ms, samples=[redacted(s, redact) for s in samples])
        for (h, ms), samples in zip(groups, over_ssh, strict=True)
    ]
    found += [
        HostSamples(host=PROMETHEUS_HOST, metrics=[m], samples=[redacted(a, redact)])
        for m, a in zip(queried, over_http, strict=True)
    ]
    return found


async def sample_metric(
    service: Service, metric: MetricSpec, host: str, catalog: Catalog
) -> Sample:
    redact = catalog.redactor()
    if not metric.over_ssh:
        return redacted(await sample_prometheus(metric), redact)
    [where] = [h for h in service.hosts if h.name == host]
    [sample] = await sample_host(where, [metric], catalog.evidence)
    return redacted(sample, redact)
