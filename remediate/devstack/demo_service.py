"""A small HTTP app for the local stack: a health endpoint that can be made to fail, and a log.

``<dir>/broken`` present -> ``/health`` answers 500 and the log says why.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_handler(state_dir: Path, log: logging.Logger) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                broken = (state_dir / "broken").exists()
                status = 500 if broken else 200
                body = {"status": "failing" if broken else "ok", "checked_at": _now()}
                if broken:
                    body["error"] = "database connection refused (127.0.0.1:5433)"
                    log.error("health check failed: database connection refused")
                self._answer(status, body)
            elif self.path == "/":
                self._answer(200, {"service": "demo"})
            else:
                self._answer(404, {"error": "not found"})

        def _answer(self, status: int, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return Handler


def _now() -> str:
    return datetime.now(UTC).isoformat()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="remediate-demo-service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--dir", type=Path, default=Path(".remediate/demo"))
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger("demo")
    handler = logging.FileHandler(args.dir / "app.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.dir, log))
    log.info("demo service listening on %s:%s", args.host, args.port)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
