"""HTTP health probes that tell a refused connection from a slow one from a bad status."""

from __future__ import annotations

import asyncio
import ssl
import time
from datetime import UTC, datetime

import httpx

from remediate.catalog import HealthEndpoint, Service
from remediate.models import ProbeFailure, ProbeResult, ServiceHealth

MAX_ERROR_TEXT = 300


def _classify(exc: httpx.HTTPError) -> ProbeFailure:
    if isinstance(exc, httpx.TimeoutException):
        return ProbeFailure.TIMEOUT
    if isinstance(exc, httpx.ConnectError):
        cause = exc.__cause__
        while cause is not None:
            if isinstance(cause, ssl.SSLError):
                return ProbeFailure.TLS
            cause = cause.__cause__
        text = str(exc).lower()
        if "name or service not known" in text or "nodename nor servname" in text:
            return ProbeFailure.DNS
        if "temporary failure in name resolution" in text or "no address associated" in text:
            return ProbeFailure.DNS
        if "certificate" in text or "ssl" in text:
            return ProbeFailure.TLS
        return ProbeFailure.CONNECT
    return ProbeFailure.PROTOCOL


async def probe(client: httpx.AsyncClient, service: str, endpoint: HealthEndpoint) -> ProbeResult:
    url = str(endpoint.url)
    started = time.perf_counter()
    checked_at = datetime.now(UTC)
    try:
        response = await client.get(url, timeout=endpoint.timeout_s)
    except httpx.HTTPError as exc:
        return ProbeResult(
            service=service,
            endpoint=endpoint.name,
            url=url,
            healthy=False,
            expected_status=endpoint.expected_status,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            failure=_classify(exc),
            error=(str(exc) or type(exc).__name__)[:MAX_ERROR_TEXT],
            checked_at=checked_at,
        )
    latency = round((time.perf_counter() - started) * 1000, 1)
    healthy = response.status_code == endpoint.expected_status
    return ProbeResult(
        service=service,
        endpoint=endpoint.name,
        url=url,
        healthy=healthy,
        status_code=response.status_code,
        expected_status=endpoint.expected_status,
        latency_ms=latency,
        failure=None if healthy else ProbeFailure.HTTP_STATUS,
        error=None if healthy else response.text[:MAX_ERROR_TEXT],
        checked_at=checked_at,
    )


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)


async def probe_service(service: Service, client: httpx.AsyncClient | None = None) -> ServiceHealth:
    if client is None:
        async with _client() as own:
            return await probe_service(service, own)
    probes = await asyncio.gather(*(probe(client, service.name, e) for e in service.health))
    return ServiceHealth(
        service=service.name, healthy=all(p.healthy for p in probes), probes=list(probes)
    )


async def probe_services(services: list[Service]) -> list[ServiceHealth]:
    async with _client() as client:
        return list(await asyncio.gather(*(probe_service(s, client) for s in services)))
