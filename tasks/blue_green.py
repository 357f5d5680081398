"""Reading a service's live color as a task, cached per flow run."""

from __future__ import annotations

from prefect import task

from remediate.bluegreen.live import read_live
from remediate.bluegreen.models import LiveRead
from remediate.catalog import Catalog, Service
from remediate.runs.cache import PER_FLOW_RUN


@task(name="read-live-color", cache_policy=PER_FLOW_RUN)
async def read_live_color(service: Service, catalog: Catalog) -> LiveRead:
    if service.blue_green is None:
        raise ValueError(f"service {service.name} has no blue_green section")
    return await read_live(service, service.blue_green, catalog.evidence.limits)
