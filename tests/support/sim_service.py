"""A small service on the SSH test host, managed by a script over SSH.

``svc start|stop|status|restart|restore|slow|clear-cache`` runs as the SSH test user. The
service is a real local HTTP process answering ``/health``: 200, or 503 while a
``broken`` marker exists. Every command appends a line to ``actions.log``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import free_port
from tests.support.sshd import SSHServer

HEALTH_SERVER = r"""
import http.server
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        broken = os.path.exists(os.path.join(ROOT, "broken"))
        status = 503 if broken else 200
        body = b"broken\n" if broken else b"ok\n"
        self.send_response(status if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
"""

SVC = r"""#!/bin/sh
root=$(dirname "$0")
port=$(cat "$root/port")
pidfile="$root/pid"
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
start() {
  running && return 0
  setsid /usr/bin/python3 "$root/health.py" "$port" >>"$root/service.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  i=0
  while [ $i -lt 50 ]; do
    /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" \
      2>/dev/null && return 0
    i=$((i + 1)); sleep 0.1
  done
  echo "service did not start" >&2; return 1
}
stop() {
  if running; then kill "$(cat "$pidfile")"; fi
  rm -f "$pidfile"
}
echo "$*" >>"$root/actions.log"
case "$1" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo running; else echo stopped; exit 3; fi ;;
  restart) stop; start && echo "restarted (mode $2)" ;;
  restore) stop; start && echo "restored the previous instance" ;;
  slow) sleep 2; echo "slow-end" >>"$root/actions.log"; echo "waited" ;;
  clear-cache) echo "cleared 3 entries api_key=SIMSECRET12345"; start ;;
  *) echo "usage: svc start|stop|status|restart|restore|slow|clear-cache" >&2; exit 2 ;;
esac
"""


@dataclass
class SimService:
    root: Path
    port: int
    sshd: SSHServer

    @property
    def script(self) -> str:
        return str(self.root / "svc")

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", self.sshd.user, "--", self.script, *args]
            if os.geteuid() == 0
            else [self.script, *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def break_it(self) -> None:
        (self.root / "broken").write_text("")

    def actions(self) -> list[str]:
        log = self.root / "actions.log"
        return log.read_text().splitlines() if log.exists() else []

    def host(self, name: str = "app-1") -> dict[str, Any]:
        return {
            "name": name,
            "address": self.sshd.address,
            "port": self.sshd.port,
            "user": self.sshd.user,
            "known_hosts": str(self.sshd.known_hosts),
            "private_key": str(self.sshd.client_key),
        }

    def kill(self) -> None:
        pidfile = self.root / "pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            pidfile.unlink()


@pytest.fixture
def sim_service(sshd: SSHServer) -> Iterator[SimService]:
    root = Path(tempfile.mkdtemp(prefix="remediate-sim-"))
    os.chmod(root, 0o755)
    (root / "health.py").write_text(HEALTH_SERVER)
    (root / "svc").write_text(SVC)
    os.chmod(root / "svc", 0o755)
    port = free_port()
    (root / "port").write_text(str(port))
    if os.geteuid() == 0:
        for path in [root, *root.iterdir()]:
            shutil.chown(path, sshd.user, sshd.user)
    service = SimService(root, port, sshd)
    try:
        yield service
    finally:
        service.kill()
        shutil.rmtree(root, ignore_errors=True)
