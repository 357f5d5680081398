"""Real local HTTP services for probing: healthy, failing, slow, and a port that refuses."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.processes import free_port


@dataclass
class Service:
    url: str
    server: ThreadingHTTPServer
    state: dict[str, float | int]

    def set(self, status: int | None = None, delay: float | None = None) -> None:
        if status is not None:
            self.state["status"] = status
        if delay is not None:
            self.state["delay"] = delay

    @property
    def health_url(self) -> str:
        return f"{self.url}/health"


def _handler(state: dict[str, float | int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["hits"] = int(state.get("hits", 0)) + 1
            time.sleep(float(state.get("delay", 0)))
            status = int(state.get("status", 200))
            body = b"ok" if status < 400 else b"upstream database unavailable"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serve() -> Iterator[Service]:
    state: dict[str, float | int] = {"status": 200, "delay": 0.0}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Service(f"http://127.0.0.1:{server.server_address[1]}", server, state)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_service() -> Iterator[Service]:
    """A health endpoint whose status and delay a test sets."""
    with serve() as service:
        yield service


@pytest.fixture
def another_http_service() -> Iterator[Service]:
    with serve() as service:
        yield service


@pytest.fixture
def refused_url() -> str:
    """A URL on a loopback port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}/health"
