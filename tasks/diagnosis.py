"""Verification and diagnosis as tasks; cached per flow run, so a resumed run re-probes nothing."""

from __future__ import annotations

from prefect import task

from remediate.catalog import Catalog, Service
from remediate.catalog import Verification as VerificationPolicy
from remediate.diagnosis.diagnose import diagnose_catalog
from remediate.diagnosis.models import Diagnosis, Verification
from remediate.diagnosis.verify import verify_service
from remediate.runs.cache import PER_FLOW_RUN


@task(name="verify", task_run_name="verify-{service.name}", cache_policy=PER_FLOW_RUN)
async def verify(service: Service, policy: VerificationPolicy) -> Verification:
    return await verify_service(service, policy)


@task(name="diagnose", cache_policy=PER_FLOW_RUN)
async def diagnose(catalog: Catalog) -> Diagnosis:
    return await diagnose_catalog(catalog)
