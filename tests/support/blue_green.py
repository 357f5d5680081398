"""A real nginx proxying one of two real upstream processes, blue and green, on free ports.

nginx runs in the foreground as the SSH test user with its own prefix and configuration
under a temporary directory; its upstream comes from an include file. The script ``bg``
(run over SSH as that user) prints the live color (``bg live``: ``<color> <went-live
time>``) and switches traffic (``bg switch <color>``: writes the include, ``nginx -s
reload``, waits until the proxy answers from that color, records it as live). Each
upstream answers ``/health`` with 200, or 503 while ``<color>.bad`` exists, and
``/color`` with its color. nginx itself serves the live file at ``/live``. Every ``bg``
command appends a line to ``actions.log``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import free_port, http_ok, start, stop, wait_until
from tests.support.sshd import SSHServer

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
COLORS = ("blue", "green")

UPSTREAM = r"""
import http.server
import os
import sys

ROOT, COLOR, PORT = os.path.dirname(os.path.abspath(__file__)), sys.argv[1], int(sys.argv[2])


class Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        bad = os.path.exists(os.path.join(ROOT, COLOR + ".bad"))
        if self.path == "/color":
            status, body = 200, COLOR
        elif self.path == "/health":
            status, body = (503, COLOR + " broken") if bad else (200, COLOR + " ok")
        else:
            status, body = 404, "not found"
        data = (body + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Upstream).serve_forever()
"""

NGINX_CONF = """
worker_processes 1;
pid {root}/nginx/nginx.pid;
error_log {root}/nginx/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {root}/nginx/tmp/body;
  proxy_temp_path {root}/nginx/tmp/proxy;
  fastcgi_temp_path {root}/nginx/tmp/fastcgi;
  uwsgi_temp_path {root}/nginx/tmp/uwsgi;
  scgi_temp_path {root}/nginx/tmp/scgi;
  upstream app {{ include {root}/nginx/live.conf; }}
  server {{
    listen 127.0.0.1:{port};
    location = /live {{ default_type text/plain; alias {root}/live; }}
    location / {{ proxy_pass http://app; }}
  }}
}}
"""

BG = r"""#!/bin/sh
root=$(dirname "$0")
echo "$*" >>"$root/actions.log"
case "$1" in
  live) cat "$root/live" ;;
  switch)
    case "$2" in blue|green) ;; *) echo "no color $2" >&2; exit 2 ;; esac
    cp "$root/$2.conf" "$root/nginx/live.conf.new" &&
      mv "$root/nginx/live.conf.new" "$root/nginx/live.conf" || exit 1
    {nginx} -p "$root/nginx" -c "$root/nginx/nginx.conf" -e "$root/nginx/error.log" -s reload ||
      exit 1
    /usr/bin/python3 "$root/wait_color.py" "$(cat "$root/proxy_port")" "$2" || exit 1
    echo "$2 $(date +%s)" >"$root/live.new" && mv "$root/live.new" "$root/live"
    echo "traffic on $2"
    ;;
  *) echo "usage: bg live|switch <color>" >&2; exit 2 ;;
esac
"""

WAIT_COLOR = r"""
import sys
import time
import urllib.request

port, color = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/color", timeout=1) as answer:
            if answer.read().decode().strip() == color:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
print(f"the proxy does not answer from {color}", file=sys.stderr)
sys.exit(1)
"""


@dataclass
class BlueGreenSite:
    root: Path
    proxy_port: int
    upstream_ports: dict[str, int]
    sshd: SSHServer
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def script(self) -> str:
        return str(self.root / "bg")

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}/health"

    @property
    def live_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}/live"

    def serving(self) -> str:
        """The color the proxy answers from now."""
        return httpx.get(f"http://127.0.0.1:{self.proxy_port}/color", trust_env=False).text.strip()

    def health(self) -> int:
        return httpx.get(self.health_url, trust_env=False).status_code

    def live_file(self) -> str:
        return (self.root / "live").read_text().split(" ")[0]

    def actions(self) -> list[str]:
        log = self.root / "actions.log"
        return log.read_text().splitlines() if log.exists() else []

    def write_live(self, text: str) -> None:
        self._write(self.root / "live", text)

    def make_live(self, color: str, since: float) -> None:
        """Point the proxy at ``color`` (as it is started) and record it live since ``since``."""
        self._write(self.root / "nginx" / "live.conf", (self.root / f"{color}.conf").read_text())
        self._write(self.root / "live", f"{color} {int(since)}\n")

    def set_bad(self, color: str, bad: bool = True) -> None:
        marker = self.root / f"{color}.bad"
        if bad:
            marker.write_text("")
        else:
            marker.unlink(missing_ok=True)

    def host(self, name: str = "lb-1") -> dict[str, Any]:
        return {
            "name": name,
            "address": self.sshd.address,
            "port": self.sshd.port,
            "user": self.sshd.user,
            "known_hosts": str(self.sshd.known_hosts),
            "private_key": str(self.sshd.client_key),
        }

    def start_proxy(self) -> None:
        """nginx in the foreground as the SSH test user, so ``bg`` can signal it."""
        nginx = [
            NGINX,
            "-p",
            str(self.root / "nginx"),
            "-c",
            str(self.root / "nginx" / "nginx.conf"),
            "-e",
            str(self.root / "nginx" / "error.log"),
            "-g",
            "daemon off;",
        ]
        args = ["runuser", "-u", self.sshd.user, "--", *nginx] if os.geteuid() == 0 else nginx
        self.processes.append(start(args, dict(os.environ), self.root / "nginx.out"))
        wait_until(http_ok(f"http://127.0.0.1:{self.proxy_port}/color"), 15, "nginx")

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text)
        self._own(path)

    def _own(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            for path in paths:
                shutil.chown(path, self.sshd.user, self.sshd.user)


@contextmanager
def blue_green_site(sshd: SSHServer, live: str, since: float) -> Iterator[BlueGreenSite]:
    """Both upstreams running, nginx proxying ``live``, recorded as live since ``since``."""
    assert Path(NGINX).exists(), "Debian package nginx-light (infra/apt-packages.txt) not installed"
    # no markdown specials (such as mkdtemp's "_") in the paths the approval form shows
    root = Path(tempfile.gettempdir()) / f"remediate-bluegreen-{secrets.token_hex(8)}"
    root.mkdir()
    os.chmod(root, 0o755)
    site = BlueGreenSite(root, free_port(), {c: free_port() for c in COLORS}, sshd)
    try:
        (root / "nginx" / "tmp").mkdir(parents=True)
        files = {
            "upstream.py": UPSTREAM,
            "wait_color.py": WAIT_COLOR,
            "bg": BG.replace("{nginx}", NGINX),
            "proxy_port": str(site.proxy_port),
            "nginx/nginx.conf": NGINX_CONF.format(root=root, port=site.proxy_port),
            **{f"{c}.conf": f"server 127.0.0.1:{p};\n" for c, p in site.upstream_ports.items()},
        }
        for name, text in files.items():
            (root / name).write_text(text)
        os.chmod(root / "bg", 0o755)
        site.make_live(live, since)
        for path in [root, *root.rglob("*")]:
            site._own(path)
        for color, port in site.upstream_ports.items():
            process = start(
                [sys.executable, str(root / "upstream.py"), color, str(port)],
                dict(os.environ),
                root / f"{color}.out",
            )
            site.processes.append(process)
            wait_until(http_ok(f"http://127.0.0.1:{port}/color"), 15, f"{color} upstream")
        site.start_proxy()
        yield site
    finally:
        for process in reversed(site.processes):
            stop(process)
        shutil.rmtree(root, ignore_errors=True)
