"""Start and stop real service processes for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout} s")


def http_ok(url: str, headers: dict[str, str] | None = None) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1, trust_env=False, headers=headers).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def start(
    args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    return subprocess.Popen(
        args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def start_prefect_server(
    port: int,
    home: Path,
    database_url: str,
    base_env: dict[str, str],
    log: Path,
    credential: str | None = None,
) -> subprocess.Popen[bytes]:
    """A real Prefect API server on 127.0.0.1:``port`` keeping its state in ``database_url``;
    with ``credential`` (``user:password``) it refuses requests without it."""
    ignored = ("PREFECT_API_URL", "PREFECT_SERVER_API_AUTH_STRING")
    env = {
        **{k: v for k, v in base_env.items() if k not in ignored},
        **({"PREFECT_SERVER_API_AUTH_STRING": credential} if credential else {}),
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    return start([*command, "--port", str(port)], env, log)
