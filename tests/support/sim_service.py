"""A small service on the SSH test host, managed by a script over SSH.

``svc start|stop|status|restart|restore|slow|clear-cache|releases|deploy|rollback`` runs
as the SSH test user. The service is a real local HTTP process answering ``/health``:
200, or 503 while a ``broken`` marker exists or the live release (``current``, a link to
``releases/<id>``) holds a ``bad`` marker. ``releases`` prints each release directory with
its modification time and ``current <id> <time of the link>``; ``deploy``/``rollback``
switch the link and restart. Every command appends a line to ``actions.log``.
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
        broken = os.path.exists(os.path.join(ROOT, "broken")) or os.path.exists(
            os.path.join(ROOT, "current", "bad")
        )
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
  slow)
    i=0
    while [ ! -e "$root/release-slow" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
    echo "slow-end" >>"$root/actions.log"; echo "waited" ;;
  clear-cache) echo "cleared 3 entries api_key=SIMSECRET12345"; start ;;
  releases)
    for d in "$root"/releases/*; do
      [ -d "$d" ] && echo "$(basename "$d") $(stat -c %Y "$d")"
    done
    [ -L "$root/current" ] &&
      echo "current $(basename "$(readlink "$root/current")") $(stat -c %Y "$root/current")"
    ;;
  deploy|rollback)
    if [ -z "$2" ] || [ ! -d "$root/releases/$2" ]; then echo "no release $2" >&2; exit 2; fi
    ln -sfn "releases/$2" "$root/current.new" && mv -T "$root/current.new" "$root/current"
    stop; start && echo "$1: release $2 is live"
    ;;
  *) echo "usage: svc start|stop|status|restart|restore|slow|clear-cache|releases|deploy|rollback" \
       >&2; exit 2 ;;
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

    def release_slow(self) -> None:
        """Lets every ``slow`` command end (each waits for this, up to two minutes)."""
        (self.root / "release-slow").write_text("")

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

    def add_release(self, release: str, created: float, bad: bool = False) -> None:
        """A release directory created at ``created``; a bad one makes health fail."""
        directory = self.root / "releases" / release
        directory.mkdir(parents=True)
        if bad:
            (directory / "bad").write_text("")
        self._own(self.root / "releases", directory, *directory.iterdir())
        os.utime(directory, (created, created))

    def make_current(self, release: str, deployed: float) -> None:
        """Point ``current`` at the release, live since ``deployed``."""
        link = self.root / "current"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("releases") / release)
        self._own(link)
        os.utime(link, (deployed, deployed), follow_symlinks=False)

    def current(self) -> str:
        return os.readlink(self.root / "current")

    def _own(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            for path in paths:
                os.lchown(path, *_ids(self.sshd.user))

    def kill(self) -> None:
        pidfile = self.root / "pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            pidfile.unlink()


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


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
