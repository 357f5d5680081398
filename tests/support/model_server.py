"""A scripted stand-in for the Anthropic Messages API on 127.0.0.1.

The real Claude Code CLI talks to it exactly as it would to the hosted API: one streaming
``POST /v1/messages`` per turn, answered with Server-Sent Events. The reply to a request is
picked from the number of assistant messages already in it, so a script is a list of turns.
Every request body is recorded so tests can assert what the model was shown.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

Mode = Literal["script", "error500", "error401", "overloaded", "hang"]


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool(name: str, **tool_input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "name": name, "input": tool_input}


@dataclass
class Turn:
    blocks: list[dict[str, Any]]
    input_tokens: int = 100
    output_tokens: int = 20


@dataclass
class ModelServer:
    """Serves ``script`` turn by turn; ``mode`` switches to a failure, for the next
    ``failures`` completion requests when set (then back to the script), else until changed."""

    script: list[Turn] = field(default_factory=list)
    mode: Mode = "script"
    failures: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def play(self, *turns: Turn | list[dict[str, Any]]) -> None:
        self.mode = "script"
        self.script = [t if isinstance(t, Turn) else Turn(t) for t in turns]
        self.requests.clear()
        self.headers.clear()

    def model_requests(self) -> list[dict[str, Any]]:
        """Requests that asked for a completion (not token counting)."""
        return [r for r in self.requests if "messages" in r and r.get("max_tokens", 2) > 1]

    def tools_offered(self) -> set[str]:
        names: set[str] = set()
        for request in self.model_requests():
            names |= {t["name"] for t in request.get("tools", [])}
        return names

    def everything_sent(self) -> str:
        return json.dumps(self.requests) + json.dumps(self.headers)

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append(body)
                owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path.startswith("/v1/messages/count_tokens"):
                    self._json(200, {"input_tokens": 100})
                    return
                mode = owner.mode
                if mode != "script" and owner.failures is not None:
                    owner.failures -= 1
                    if owner.failures <= 0:
                        owner.mode, owner.failures = "script", None
                if mode == "hang":
                    owner._release.wait()
                    return
                if mode == "error500":
                    self._json(500, _error("api_error", "scripted internal error"))
                    return
                if mode == "overloaded":
                    self._json(529, _error("overloaded_error", "Overloaded"))
                    return
                if mode == "error401":
                    self._json(401, _error("authentication_error", "invalid x-api-key"))
                    return
                done = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
                if done < len(owner.script):
                    turn = owner.script[done]
                else:
                    turn = Turn([text("Nothing more to do.")])
                self._stream(body.get("model", "scripted"), turn)

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, model: str, turn: Turn) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.send_header("connection", "close")
                self.end_headers()
                for event in _events(model, turn, next(owner._ids)):
                    self.wfile.write(event)
                self.wfile.flush()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _events(model: str, turn: Turn, number: int) -> Iterator[bytes]:
    usage = {"input_tokens": turn.input_tokens, "output_tokens": 1}
    yield _sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": f"msg_scripted_{number}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        },
    )
    stop_reason = "end_turn"
    for index, block in enumerate(turn.blocks):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            stop_reason = "tool_use"
            start = {
                "type": "tool_use",
                "id": f"toolu_scripted_{number}_{index}",
                "name": block["name"],
                "input": {},
            }
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
        yield _sse(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": index})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": turn.output_tokens},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
