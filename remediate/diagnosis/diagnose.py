"""Probe every catalog service at once to see what else is unhealthy."""

from __future__ import annotations

import asyncio

from remediate.catalog import Catalog
from remediate.diagnosis.dependencies import catalog_checks
from remediate.diagnosis.models import Diagnosis
from remediate.diagnosis.probes import probe_services


async def diagnose_catalog(catalog: Catalog) -> Diagnosis:
    """Health probes of every service, with dependency, DNS and TLS checks alongside."""
    services = [s for s in catalog.services if s.health]
    health, checks = await asyncio.gather(probe_services(services), catalog_checks(catalog))
    return Diagnosis(services=health, checks=checks)
