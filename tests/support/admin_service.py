"""A real local HTTP service with an admin API that runbook actions call.

``GET /health`` answers 200 while the service is up and 503 while it is down.
``POST /admin/services/<name>/restart`` (needs ``Authorization: Bearer <ADMIN_TOKEN>``)
brings it up, or answers 500 while ``fail_restart`` is set; ``POST
/admin/services/<name>/rollback`` brings it up too. The restart answer echoes the
request's ``Authorization`` header, and the bare token, so tests can see it never
reaches a record. Every request is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

ADMIN_TOKEN = "adm-7Kq2vX9pLr4Tz8Wn"
ADMIN_TOKEN_ENV = "REMEDIATE_TEST_ADMIN_TOKEN"


@dataclass
class AdminService:
    url: str
    healthy: bool = False
    fail_restart: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def health_url(self) -> str:
        return f"{self.url}/health"


def _handler(service: AdminService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path != "/health":
                self._answer(404, b"not found")
                return
            self._answer(200 if service.healthy else 503, b"ok" if service.healthy else b"down")

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            authorization = self.headers.get("Authorization", "")
            segments = [unquote(s) for s in parts.path.split("/")]
            service.requests.append(
                {
                    "path": parts.path,
                    "segments": segments,
                    "query": parse_qs(parts.query),
                    "body": json.loads(raw) if raw else None,
                    "authorized": authorization == f"Bearer {ADMIN_TOKEN}",
                }
            )
            if segments[:3] != ["", "admin", "services"] or len(segments) != 5:
                self._answer(404, b"not found")
            elif authorization != f"Bearer {ADMIN_TOKEN}":
                self._answer(401, b"missing or wrong token")
            elif segments[4] == "restart" and service.fail_restart:
                self._answer(500, b"restart failed: worker pool exhausted")
            elif segments[4] in ("restart", "rollback"):
                service.healthy = True
                echo = {
                    "done": segments[4],
                    "service": segments[3],
                    "seen": authorization,
                    "echo": authorization.removeprefix("Bearer "),
                }
                self._answer(200, json.dumps(echo).encode())
            else:
                self._answer(404, b"no such operation")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def admin_service() -> Iterator[AdminService]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    service = AdminService(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(service)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
