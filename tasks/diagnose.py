"""Probe every catalog service at once to see what else is unhealthy."""

from __future__ import annotations

from prefect import task

from remediate.catalog import Catalog
from remediate.models import Diagnosis
from remediate.probes import probe_services


@task(name="diagnose")
async def diagnose(catalog: Catalog) -> Diagnosis:
    services = [s for s in catalog.services if s.health]
    return Diagnosis(services=await probe_services(services))
