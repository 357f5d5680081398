"""Deeper diagnosis: TCP connects to dependencies, DNS lookup times, TLS certificate expiry."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import ssl
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509

from remediate.catalog import Catalog, Service
from remediate.diagnosis.config import Dependency, DiagnosisConfig
from remediate.diagnosis.models import CheckKind, DependencyCheck

MAX_ERROR_TEXT = 300


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _error(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return f"name does not resolve: {exc.strerror or exc}"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return (str(exc) or type(exc).__name__)[:MAX_ERROR_TEXT]


async def tcp_check(
    service: str, dependency: Dependency, config: DiagnosisConfig
) -> DependencyCheck:
    target = f"{dependency.host}:{dependency.port}"
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(config.connect_timeout_s):
            _, writer = await asyncio.open_connection(dependency.host, dependency.port)
    except (TimeoutError, OSError) as exc:
        return DependencyCheck(
            service=service,
            kind=CheckKind.TCP,
            name=dependency.name,
            target=target,
            ok=False,
            latency_ms=_elapsed_ms(started),
            error=_error(exc, config.connect_timeout_s),
            checked_at=checked_at,
        )
    latency = _elapsed_ms(started)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return DependencyCheck(
        service=service,
        kind=CheckKind.TCP,
        name=dependency.name,
        target=target,
        ok=True,
        slow=latency > config.slow_ms,
        latency_ms=latency,
        detail=f"connected in {latency:.0f} ms",
        checked_at=checked_at,
    )


async def dns_check(service: str, host: str, config: DiagnosisConfig) -> DependencyCheck:
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(config.connect_timeout_s):
            answers = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (TimeoutError, OSError) as exc:
        return DependencyCheck(
            service=service,
            kind=CheckKind.DNS,
            name=host,
            target=host,
            ok=False,
            latency_ms=_elapsed_ms(started),
            error=_error(exc, config.connect_timeout_s),
            checked_at=checked_at,
        )
    latency = _elapsed_ms(started)
    addresses = sorted({str(a[4][0]) for a in answers})
    return DependencyCheck(
        service=service,
        kind=CheckKind.DNS,
        name=host,
        target=host,
        ok=True,
        slow=latency > config.slow_ms,
        latency_ms=latency,
        detail=f"{', '.join(addresses[:4])} in {latency:.0f} ms",
        checked_at=checked_at,
    )


async def tls_check(
    service: str, name: str, url: str, config: DiagnosisConfig, now: datetime | None = None
) -> DependencyCheck:
    """The certificate's expiry; whether it is trusted is the HTTP probe's concern."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    target = f"{host}:{port}"
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(config.connect_timeout_s):
            _, writer = await asyncio.open_connection(
                host, port, ssl=context, server_hostname=host or None
            )
    except (TimeoutError, OSError) as exc:
        return DependencyCheck(
            service=service,
            kind=CheckKind.TLS,
            name=name,
            target=target,
            ok=False,
            latency_ms=_elapsed_ms(started),
            error=_error(exc, config.connect_timeout_s),
            checked_at=checked_at,
        )
    latency = _elapsed_ms(started)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    expires = x509.load_der_x509_certificate(der).not_valid_after_utc
    days = (expires - (now or datetime.now(UTC))).total_seconds() / 86_400
    when = expires.date().isoformat()
    result = DependencyCheck(
        service=service,
        kind=CheckKind.TLS,
        name=name,
        target=target,
        ok=days >= 0,
        slow=latency > config.slow_ms,
        latency_ms=latency,
        detail=f"certificate expires {when} (in {days:.0f} days)",
        checked_at=checked_at,
    )
    if days < 0:
        return result.model_copy(update={"error": f"certificate expired on {when}"})
    if days < config.tls_warn_days:
        warning = f"certificate expires in {days:.1f} days (under {config.tls_warn_days})"
        return result.model_copy(update={"warning": warning})
    return result


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def service_checks(service: Service, config: DiagnosisConfig) -> list[DependencyCheck]:
    jobs = [tcp_check(service.name, d, config) for d in service.dependencies]
    if config.tls:
        jobs += [
            tls_check(service.name, e.name, str(e.url), config)
            for e in service.health
            if e.url.scheme == "https"
        ]
    if config.dns:
        hosts = {e.url.host or "" for e in service.health} | {d.host for d in service.dependencies}
        jobs += [dns_check(service.name, h, config) for h in sorted(hosts) if h and not _is_ip(h)]
    return list(await asyncio.gather(*jobs))


async def catalog_checks(catalog: Catalog) -> list[DependencyCheck]:
    per_service = await asyncio.gather(
        *(service_checks(s, catalog.diagnosis) for s in catalog.services)
    )
    return [check for checks in per_service for check in checks]
