"""HTTP health probes that tell a refused connection from a slow one from a bad status."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from remediate.catalog import HealthEndpoint, Service
from remediate.diagnosis.config import JsonCheck
from remediate.diagnosis.models import ProbeFailure, ProbeResult, ServiceHealth

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
    failure = None if healthy else ProbeFailure.HTTP_STATUS
    error = None if healthy else response.text[:MAX_ERROR_TEXT]
    if healthy and endpoint.json_checks:
        error = json_mismatch(response, endpoint.json_checks)
        if error is not None:
            healthy, failure = False, ProbeFailure.CONTENT
    return ProbeResult(
        service=service,
        endpoint=endpoint.name,
        url=url,
        healthy=healthy,
        status_code=response.status_code,
        expected_status=endpoint.expected_status,
        latency_ms=latency,
        failure=failure,
        error=error,
        checked_at=checked_at,
    )


_MISSING = object()


def _lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def _contains(value: Any, wanted: Any) -> bool:
    if isinstance(value, str) and isinstance(wanted, str):
        return wanted in value
    if isinstance(value, list):
        return wanted in value
    if isinstance(value, dict):
        return wanted in value
    return False


def json_mismatch(response: httpx.Response, checks: list[JsonCheck]) -> str | None:
    """The first JSON check the response body fails, described; None when all pass."""
    try:
        data = response.json()
    except ValueError:
        return "body is not JSON"
    for check in checks:
        value = _lookup(data, check.path)
        if value is _MISSING:
            return f"{check.path}: missing"
        shown = json.dumps(value, default=str)[:100]
        if "equals" in check.model_fields_set and value != check.equals:
            return f"{check.path} is {shown}, want {json.dumps(check.equals, default=str)}"
        if "contains" in check.model_fields_set and not _contains(value, check.contains):
            return f"{check.path} is {shown}, want it to contain {json.dumps(check.contains)}"
    return None


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
