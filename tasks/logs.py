"""Collect the alerting service's logs over SSH while the other steps run."""

from __future__ import annotations

from prefect import task

from remediate.catalog import Catalog, Service
from remediate.evidence.logs import collect_service_logs
from remediate.evidence.models import LogBundle
from remediate.redaction import Redactor


def catalog_redactor(catalog: Catalog) -> Redactor:
    return Redactor((p.name, p.pattern) for p in catalog.evidence.redact)


@task(name="collect-logs", task_run_name="collect-logs-{service.name}")
async def collect_logs(service: Service, catalog: Catalog) -> LogBundle:
    """Every failure (host down, wrong key, refused login, hang) is recorded, never raised."""
    return await collect_service_logs(
        service.name, service.hosts, service.logs, catalog.evidence, catalog_redactor(catalog)
    )
