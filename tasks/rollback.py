"""Reading a service's releases as a task, cached per flow run."""

from __future__ import annotations

from prefect import task

from remediate.catalog import Catalog, Service
from remediate.rollback.github_releases import read_service_deployments
from remediate.rollback.models import ReleaseRead
from remediate.rollback.ssh_releases import read_releases
from remediate.runs.cache import PER_FLOW_RUN


@task(name="read-releases", cache_policy=PER_FLOW_RUN)
async def read_service_releases(service: Service, catalog: Catalog) -> ReleaseRead:
    if service.releases is None:
        raise ValueError(f"service {service.name} has no releases section")
    if service.releases.github is not None:
        return await read_service_deployments(service, service.releases, catalog.tracker)
    return await read_releases(service, service.releases, catalog.evidence.limits)
