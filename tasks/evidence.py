"""Log collection as a task, running beside diagnosis; cached per flow run."""

from __future__ import annotations

from prefect import task

from remediate.catalog import Catalog, Service
from remediate.evidence.logs import collect_service_logs
from remediate.evidence.models import LogBundle
from remediate.runs.cache import PER_FLOW_RUN


@task(name="collect-logs", task_run_name="collect-logs-{service.name}", cache_policy=PER_FLOW_RUN)
async def collect_logs(service: Service, catalog: Catalog) -> LogBundle:
    """Every failure (host down, wrong key, refused login, hang) is recorded, never raised."""
    return await collect_service_logs(
        service.name, service.hosts, service.logs, catalog.evidence, catalog.redactor()
    )
