"""A real git remote over smart HTTP: ``git http-backend`` behind a WSGI server on 127.0.0.1.

Pushes and fetches need HTTP Basic auth with the token as password (as GitHub does).
Every request is recorded, so tests can count clones and pushes.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from tests.support.repos import git, make_bare_repo


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                stream.readline()
                return b"".join(chunks)
            chunks.append(stream.read(size))
            stream.readline()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(stream.read(length)) if length else b""


@dataclass
class GitRemote:
    root: Path
    token: str = "ghs_git_remote_token"
    on_push: Callable[[str, Path], None] | None = None
    log: list[tuple[str, str, str]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    """The ``Authorization`` header of every request ("" when none was sent)."""
    tls: ssl.SSLContext | None = None
    _server: _ThreadingServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_port)

    def url(self, owner: str, name: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}/{owner}/{name}.git"

    def add_repo(self, owner: str, name: str) -> Path:
        (self.root / owner).mkdir(parents=True, exist_ok=True)
        return make_bare_repo(self.root / owner, name)

    def branches(self, owner: str, name: str) -> dict[str, str]:
        out = git(
            self.root / owner / f"{name}.git",
            "for-each-ref",
            "--format=%(refname:short) %(objectname)",
            "refs/heads",
        )
        return dict(line.split(" ", 1) for line in out.splitlines())

    def show(self, owner: str, name: str, rev: str) -> str:
        return git(self.root / owner / f"{name}.git", "show", "--format=%B", rev)

    def count(self, service: str) -> int:
        """Requests of ``service`` (git-upload-pack: fetches/clones; git-receive-pack: pushes)."""
        return sum(1 for method, _, s in self.log if method == "POST" and s == service)

    def _app(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        service = "git-receive-pack" if "receive-pack" in path + query else "git-upload-pack"
        self.log.append((environ["REQUEST_METHOD"], path, service))
        expected = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
        auth = environ.get("HTTP_AUTHORIZATION", "")
        self.authorizations.append(auth)
        if not auth.startswith("Basic ") or auth.split(" ", 1)[1] != expected:
            start("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"authentication required\n"]
        body = _read_body(environ)
        env = {
            "PATH": "/usr/bin:/bin",
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "remediate-bot",
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.root),
        }
        for header in ("HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL"):
            if header in environ:
                env[header] = environ[header]
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status = "200 OK"
        headers = []
        for line in head.decode(errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = value.strip()
            elif name:
                headers.append((name, value.strip()))
        start(status, headers)
        if service == "git-receive-pack" and environ["REQUEST_METHOD"] == "POST" and self.on_push:
            self.on_push(path, self.root)
        return [payload]

    def start(self) -> None:
        self._server = make_server(
            "127.0.0.1", 0, self._app, server_class=_ThreadingServer, handler_class=_Quiet
        )
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def git_remote(tmp_path: Path) -> Iterator[GitRemote]:
    remote = GitRemote(tmp_path / "git-remote")
    remote.root.mkdir()
    remote.start()
    try:
        yield remote
    finally:
        remote.stop()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key: (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_git_remote(tmp_path: Path) -> Iterator[tuple[GitRemote, Path]]:
    """The same remote over HTTPS with a self-signed certificate; yields it and the
    certificate to trust (as GIT_SSL_CAINFO)."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    remote = GitRemote(tmp_path / "git-remote-tls", tls=context)
    remote.root.mkdir()
    remote.start()
    try:
        yield remote, cert
    finally:
        remote.stop()
