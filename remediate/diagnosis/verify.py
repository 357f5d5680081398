"""Re-probe the alerting service to tell a real problem from one that already went away."""

from __future__ import annotations

import asyncio

from remediate.catalog import Service
from remediate.catalog import Verification as VerificationPolicy
from remediate.diagnosis.models import ProbeResult, Verdict, Verification
from remediate.diagnosis.probes import probe_service


def unverifiable(reason: str) -> Verification:
    return Verification(verdict=Verdict.UNVERIFIABLE, reason=reason)


async def verify_service(service: Service, policy: VerificationPolicy) -> Verification:
    """Confirmed at the first unhealthy attempt; recovered after every attempt is healthy."""
    if not service.health:
        return unverifiable(f"service {service.name} has no health endpoints in the catalog")
    attempts: list[list[ProbeResult]] = []
    for number in range(policy.attempts):
        if number:
            await asyncio.sleep(policy.interval_s)
        health = await probe_service(service)
        attempts.append(health.probes)
        if not health.healthy:
            bad = ", ".join(p.endpoint for p in health.probes if not p.healthy)
            return Verification(
                verdict=Verdict.CONFIRMED,
                reason=f"attempt {number + 1} of {policy.attempts}: unhealthy endpoint(s) {bad}",
                attempts=attempts,
            )
    return Verification(
        verdict=Verdict.RECOVERED,
        reason=f"all {policy.attempts} attempts healthy",
        attempts=attempts,
    )
