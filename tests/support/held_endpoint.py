"""An HTTP endpoint that holds every request until the test releases it.

A run that probes it stops at that point, so a test can change the world (resolve the
alert, kill a process) while the run is known to be in progress, without sleeping.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class HeldEndpoint:
    status: int = 503
    entered: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    hits: int = 0
    url: str = ""

    def wait_entered(self, timeout: float = 120) -> None:
        assert self.entered.wait(timeout), f"nothing requested {self.url} within {timeout} s"

    def release(self) -> None:
        self.released.set()


def _handler(endpoint: HeldEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.hits += 1
            endpoint.entered.set()
            endpoint.released.wait(300)
            body = b"held, then answered"
            self.send_response(endpoint.status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def held_endpoint(status: int = 503) -> Iterator[HeldEndpoint]:
    endpoint = HeldEndpoint(status=status)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    server.daemon_threads = True
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/health"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield endpoint
    finally:
        endpoint.release()
        server.shutdown()
        server.server_close()


@pytest.fixture
def held_health() -> Iterator[HeldEndpoint]:
    """A health endpoint answering 503 once the test releases it."""
    with held_endpoint() as endpoint:
        yield endpoint
