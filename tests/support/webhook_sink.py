"""An HTTP endpoint on 127.0.0.1 that records every JSON POST it receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class WebhookSink:
    status: int = 200
    received: list[tuple[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def bodies(self, path: str) -> list[Any]:
        return [body for where, body in self.received if where == path]


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            sink.received.append((self.path, json.loads(self.rfile.read(length) or b"null")))
            self.send_response(sink.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    sink.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=sink.server.serve_forever, daemon=True).start()
    try:
        yield sink
    finally:
        sink.server.shutdown()
        sink.server.server_close()
