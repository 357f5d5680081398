"""Deeper diagnosis against real local servers: TCP, DNS, TLS expiry and JSON health bodies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from remediate.catalog import Catalog, HealthEndpoint, Service
from remediate.diagnosis.config import Dependency, DiagnosisConfig, JsonCheck
from remediate.diagnosis.dependencies import catalog_checks, dns_check, tcp_check, tls_check
from remediate.diagnosis.models import CheckKind, Diagnosis, ProbeFailure
from remediate.diagnosis.probes import probe_service
from remediate.incident.text import diagnosis_section
from tests.markdown_render import render
from tests.support.processes import free_port

CONFIG = DiagnosisConfig(connect_timeout_s=1, slow_ms=100, tls_warn_days=14)


@contextlib.asynccontextmanager
async def tcp_listener() -> AsyncIterator[int]:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full, so a new connect gets no answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def certificate(tmp_path: Path, not_after: datetime) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=400))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@contextlib.asynccontextmanager
async def tls_server(context: ssl.SSLContext, delay: float = 0) -> AsyncIterator[int]:
    """Accepts connections in a thread, waits ``delay`` seconds, then does the TLS handshake."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                time.sleep(delay)
                with (
                    contextlib.suppress(OSError, ssl.SSLError),
                    context.wrap_socket(conn, server_side=True) as tls,
                ):
                    tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join(timeout=10)
        listener.close()


@contextlib.contextmanager
def json_service(body: Any) -> Iterator[str]:
    payload = json.dumps(body).encode() if not isinstance(body, bytes) else body

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()


async def test_tcp_reachable_refused_and_unanswered() -> None:
    async with tcp_listener() as port:
        up = await tcp_check("api", Dependency(name="db", host="127.0.0.1", port=port), CONFIG)
    assert up.ok and up.kind is CheckKind.TCP and up.target == f"127.0.0.1:{port}"
    assert up.detail.startswith("connected in")
    refused = await tcp_check(
        "api", Dependency(name="cache", host="127.0.0.1", port=free_port()), CONFIG
    )
    assert not refused.ok
    assert refused.error and "refused" in refused.error.lower()
    with full_backlog() as port:
        silent = await tcp_check(
            "api", Dependency(name="queue", host="127.0.0.1", port=port), CONFIG
        )
    assert not silent.ok
    assert silent.error == "no answer within 1 s"


async def test_dns_resolution_of_localhost() -> None:
    check = await dns_check("api", "localhost", CONFIG)
    assert check.ok and check.kind is CheckKind.DNS
    assert "127.0.0.1" in check.detail or "::1" in check.detail


async def test_tls_expiry_ok_warning_and_expired(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    results = {}
    for label, days in (("fine", 90), ("soon", 5), ("expired", -2)):
        (tmp_path / label).mkdir()
        context = certificate(tmp_path / label, now + timedelta(days=days))
        async with tls_server(context) as port:
            url = f"https://127.0.0.1:{port}/health"
            results[label] = await tls_check("api", "health", url, CONFIG)
    assert results["fine"].ok and results["fine"].warning is None
    assert "in 90 days" in results["fine"].detail or "in 89 days" in results["fine"].detail
    assert results["soon"].ok
    assert results["soon"].warning and "under 14" in results["soon"].warning
    assert not results["expired"].ok
    assert results["expired"].error and results["expired"].error.startswith("certificate expired")


async def test_slow_handshake_is_reported_slow(tmp_path: Path) -> None:
    context = certificate(tmp_path, datetime.now(UTC) + timedelta(days=90))
    async with tls_server(context, delay=0.3) as port:
        check = await tls_check("api", "health", f"https://127.0.0.1:{port}/health", CONFIG)
    assert check.ok and check.slow


async def test_json_checks_on_the_health_body() -> None:
    body = {"status": "degraded", "checks": [{"name": "db", "state": "down"}], "tags": ["a"]}
    cases = [
        (JsonCheck(path="status", equals="ok"), 'status is "degraded", want "ok"'),
        (JsonCheck(path="checks.0.state", equals="up"), 'checks.0.state is "down", want "up"'),
        (JsonCheck(path="version", equals="1"), "version: missing"),
        (JsonCheck(path="tags", contains="b"), 'tags is ["a"], want it to contain "b"'),
        (JsonCheck(path="status", contains="grad"), None),
    ]
    with json_service(body) as url:
        for check, error in cases:
            endpoint = HealthEndpoint(url=url, json_checks=[check])  # type: ignore[arg-type]
            health = await probe_service(Service(name="api", health=[endpoint]))
            [probe] = health.probes
            assert probe.error == error
            assert probe.healthy is (error is None)
            assert probe.failure is (None if error is None else ProbeFailure.CONTENT)
    with json_service(b"<html>") as url:
        endpoint = HealthEndpoint(url=url, json_checks=[JsonCheck(path="a", equals=1)])  # type: ignore[arg-type]
        health = await probe_service(Service(name="api", health=[endpoint]))
        assert health.probes[0].error == "body is not JSON"


async def test_catalog_checks_and_the_diagnosis_summary(tmp_path: Path) -> None:
    context = certificate(tmp_path, datetime.now(UTC) + timedelta(days=3))
    async with tcp_listener() as db_port, tls_server(context) as tls_port:
        catalog = Catalog.model_validate(
            {
                "services": [
                    {
                        "name": "api",
                        "health": [{"url": f"https://localhost:{tls_port}/health"}],
                        "dependencies": [
                            {"name": "db", "host": "127.0.0.1", "port": db_port},
                            {"name": "cache", "host": "localhost", "port": free_port()},
                        ],
                    }
                ],
                "diagnosis": {"connect_timeout_s": 1, "tls_warn_days": 14},
            }
        )
        checks = await catalog_checks(catalog)
    kinds = sorted((c.kind.value, c.name, c.ok) for c in checks)
    assert kinds == [
        ("dns", "localhost", True),
        ("tcp", "cache", False),
        ("tcp", "db", True),
        ("tls", "health", True),
    ]
    diagnosis = Diagnosis(services=[], checks=checks)
    assert [c.name for c in diagnosis.down] == ["cache"]
    section = diagnosis_section(diagnosis)
    assert "- Down: cache (tcp)" in section
    assert "- Warning: health: certificate expires in" in section
    assert "- First failure: api tcp cache:" in section
    assert "<table>" in render(section)


@pytest.mark.parametrize(
    "bad",
    [
        {"path": "status"},
        {"path": "status", "equals": "ok", "contains": "o"},
        {"path": "a..b", "equals": 1},
    ],
)
def test_json_checks_need_one_condition_and_a_dotted_path(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        JsonCheck.model_validate(bad)


def test_dependencies_validate_host_and_unique_names() -> None:
    with pytest.raises(ValueError, match="address"):
        Dependency(name="db", host="db;rm -rf /", port=5432)
    with pytest.raises(ValueError, match="dependency names must be unique"):
        Catalog.model_validate(
            {
                "services": [
                    {
                        "name": "api",
                        "dependencies": [
                            {"name": "db", "host": "db", "port": 1},
                            {"name": "db", "host": "db2", "port": 2},
                        ],
                    }
                ]
            }
        )
