"""The ``scale`` profile for tests: throwaway Redis and PostgreSQL servers, the profile
started with ``remediate up --profile scale`` on free ports, signed alerts, run counts."""

from __future__ import annotations

import asyncio
import glob
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from remediate.devstack.stack import read_secrets
from remediate.runs.auth import CLIENT_AUTH_ENV, auth_headers
from tests.support.processes import free_port, start, stop

ROOT = Path(__file__).resolve().parents[2]
MACHINE_POSTGRES = os.environ.get(
    "REMEDIATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.25)


class Redis:
    """A redis-server of its own on a free port, appending to its file as production does."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.home), "--appendonly", "yes", "--save", ""]
        self.process = start(args, dict(os.environ), self.home / "redis.log")
        wait_for(self.answers, 30, "redis-server")

    def answers(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


class Postgres:
    """A PostgreSQL cluster of its own (initdb under a temporary directory, a free port),
    so a test may stop and start it without touching the machine's server."""

    def __init__(self) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        assert binaries, "no PostgreSQL binaries under /usr/lib/postgresql"
        self.bin = Path(binaries[-1])
        self.home = Path(tempfile.mkdtemp(prefix="remediate-pg-"))
        shutil.chown(self.home, "postgres", "postgres")
        self.port = free_port()
        self._as_postgres(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres")

    @property
    def data(self) -> str:
        return str(self.home / "data")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _as_postgres(self, *args: object) -> None:
        command = ["runuser", "-u", "postgres", "--", *map(str, args)]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.home}"
        )
        log = self.home / "postgres.log"
        self._as_postgres(
            self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", log, "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bin / "pg_ctl"),
                "-D",
                self.data,
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.home, ignore_errors=True)


@contextmanager
def machine_database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""
    import asyncpg  # type: ignore[import-untyped]

    name = f"remediate_scale_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(MACHINE_POSTGRES, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        yield MACHINE_POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def remediate(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "remediate.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@dataclass
class ScaleStack:
    env: dict[str, str]
    data: Path
    state: dict[str, Any]

    @property
    def api(self) -> httpx.Client:
        credential = read_secrets(self.data / "secrets.env")[CLIENT_AUTH_ENV]
        return httpx.Client(
            base_url=self.state["prefect_api_url"],
            headers=auth_headers(credential),
            trust_env=False,
            timeout=30,
        )

    def pid(self, name: str) -> int:
        return int(self.state["pids"][name])

    def kill(self, name: str) -> None:
        os.kill(self.pid(name), signal.SIGKILL)

    def health(self, gateway_url: str) -> dict[str, Any] | None:
        try:
            answer = httpx.get(f"{gateway_url}/healthz", timeout=5, trust_env=False)
        except httpx.HTTPError:
            return None
        return answer.json() if answer.status_code == 200 else None

    def delivering(self) -> list[str]:
        return [
            url
            for url in self.state["gateway_urls"]
            if (self.health(url) or {}).get("delivering") is True
        ]

    def post_alert(self, gateway_url: str, check_id: str) -> httpx.Response:
        """A signed Sentinel failure for the demo service, as a monitor sends it."""
        secret = read_secrets(self.data / "secrets.env")["REMEDIATE_HMAC_SECRETS"].split(",")[0]
        sample = json.loads((ROOT / "examples/sentinel-check-result.json").read_text())
        body = json.dumps(sample | {"check_id": check_id}).encode()
        stamp = str(int(time.time()))
        signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, "sha256").hexdigest()
        return httpx.post(
            f"{gateway_url}/v1/alerts/sentinel",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Remediate-Signature": f"t={stamp},v1={signature}",
            },
            timeout=30,
            trust_env=False,
        )

    def runs_of(self, fingerprint: str) -> list[dict[str, Any]]:
        with self.api as api:
            answer = api.post(
                "/flow_runs/filter",
                json={"flow_runs": {"tags": {"all_": [f"fingerprint:{fingerprint}"]}}},
            )
        answer.raise_for_status()
        runs: list[dict[str, Any]] = answer.json()
        return runs

    def started(self, fingerprint: str) -> bool:
        """Exactly one run for ``fingerprint``, and a worker has started it."""
        runs = self.runs_of(fingerprint)
        assert len(runs) <= 1, f"{len(runs)} runs for {fingerprint}"
        return len(runs) == 1 and runs[0]["state_type"] in ("RUNNING", "COMPLETED", "FAILED")


@contextmanager
def scale_profile(home: Path, database_url: str, redis_url: str) -> Iterator[ScaleStack]:
    """``remediate up --profile scale`` on free ports; ``remediate down`` afterwards."""
    demo_port = free_port()
    catalog = home / "remediate.yaml"
    default = (ROOT / "remediate.yaml").read_text()
    catalog.write_text(default.replace("127.0.0.1:8787", f"127.0.0.1:{demo_port}"))
    data = home / "stack"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REMEDIATE_"))}
    env |= {
        "PYTHONPATH": str(ROOT),
        "REMEDIATE_DATA_DIR": str(data),
        "REMEDIATE_CATALOG": str(catalog),
        "REMEDIATE_PREFECT_PORT": str(free_port()),
        "REMEDIATE_DEMO_PORT": str(demo_port),
        "REMEDIATE_SCALE_API_PORTS": f"{free_port()},{free_port()}",
        "REMEDIATE_GATEWAY_PORT": str(free_port()),
        "REMEDIATE_SCALE_GATEWAY_PORTS": f"{free_port()},{free_port()}",
        "REMEDIATE_SCALE_DATABASE_URL": database_url,
        "REMEDIATE_SCALE_REDIS_URL": redis_url,
        "REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE": "600",
        "REMEDIATE_GATEWAY_RETRY_MAX_S": "2",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    try:
        remediate(env, "up", "--profile", "scale")
        state = json.loads((data / "stack.json").read_text())
        yield ScaleStack(env, data, state)
    finally:
        remediate(env, "down")
