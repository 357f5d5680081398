"""The stack the fault cases break: a Prefect server of their own (so they can kill it, and
no other test file's runner takes their runs), a runner serving ``remediate-alert`` and
``recover-crashed-runs`` from ``prefect.yaml`` with its automation, and helpers to send
alerts, find a run's process and wait for states."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from remediate.alerts import Alert
from remediate.catalog import load_catalog
from remediate.runs.api import PrefectAPI
from tests.conftest import _admin
from tests.support.processes import (
    free_port,
    http_ok,
    start,
    start_prefect_server,
    stop,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = ("remediate-alert", "recover-crashed-runs")
ENDED = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
STANDIN_TOKEN = "ghs_standin_token"  # GitHubStandIn's default token


def log(message: str) -> None:
    """Figures the reliability table quotes; shown with ``pytest -s`` and in CI logs."""
    print(f"[faults] {message}", file=sys.stderr, flush=True)


@dataclass
class FaultStack:
    home: Path
    port: int
    database_url: str
    catalog: Path
    data_dir: Path
    server: subprocess.Popen[bytes] | None = None
    runner: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def runner_log(self) -> Path:
        return self.home / "runner.log"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PREFECT_API_URL": self.api,
            "REMEDIATE_CATALOG": str(self.catalog),
            "REMEDIATE_DATA_DIR": str(self.data_dir),
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }

    def start_api(self) -> None:
        self.server = start_prefect_server(
            self.port,
            self.home / "server",
            self.database_url,
            dict(os.environ),
            self.home / "server.log",
        )
        wait_until(http_ok(f"{self.api}/health"), 120, "fault stack's Prefect server")

    def kill_api(self) -> None:
        """``kill -9`` the API server's whole process group: no shutdown, no flush."""
        assert self.server is not None
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(timeout=30)

    def start_runner(self) -> None:
        only = [arg for name in DEPLOYMENTS for arg in ("--only", name)]
        self.runner = start(
            [
                sys.executable,
                "-m",
                "remediate.devstack.runner",
                "--prefect-yaml",
                str(ROOT / "prefect.yaml"),
                "--query-seconds",
                "0.5",
                *only,
            ],
            self.env,
            self.runner_log,
            cwd=ROOT,
        )
        for name in DEPLOYMENTS:
            wait_until(
                http_ok(f"{self.api}/deployments/name/{name}/{name}"),
                120,
                f"{name} deployment",
            )

    def write_catalog(self, catalog: dict[str, Any]) -> None:
        """Runs read the catalog when they start, so a case may change it between alerts."""
        self.catalog.write_text(yaml.safe_dump(catalog), encoding="utf-8")

    def send(self, alert: Alert) -> str:
        """Submit the alert as the gateway and ``remediate send`` do; the run's id."""
        attributed = load_catalog(self.catalog).attribute(alert)

        async def submit() -> str:
            async with PrefectAPI(self.api, timeout=30, attempts=3) as api:
                return (await api.submit_alert(attributed)).id

        return asyncio.run(submit())

    def run(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = httpx.get(
            f"{self.api}/flow_runs/{run_id}", trust_env=False, timeout=30
        ).json()
        return run

    def wait_for(
        self, run_id: str, states: set[str] = ENDED, timeout: float = 240
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                run = self.run(run_id)
                if run["state_type"] in states:
                    return run
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"run {run_id} not in {states}: {self.runner_log.read_text()[-4000:]}")

    def run_processes(self) -> list[tuple[int, str]]:
        """(pid, flow run id) of every engine process the runner started."""
        assert self.runner is not None
        found = []
        for pid in descendants(self.runner.pid):
            environ = read_environ(pid)
            if "PREFECT__FLOW_RUN_ID" in environ:
                found.append((pid, environ["PREFECT__FLOW_RUN_ID"]))
        return found

    def kill_run(self, run_id: str) -> int:
        """``kill -9`` the engine process of ``run_id``; its pid."""
        [pid] = [pid for pid, run in self.run_processes() if run == run_id]
        os.kill(pid, signal.SIGKILL)
        return pid

    def recoveries(self) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{self.api}/flow_runs/filter",
            json={"flows": {"name": {"any_": ["recover-crashed-runs"]}}},
            trust_env=False,
            timeout=30,
        )
        runs: list[dict[str, Any]] = response.json()
        return runs

    def states(self, run_id: str) -> list[dict[str, Any]]:
        states: list[dict[str, Any]] = httpx.get(
            f"{self.api}/flow_run_states/",
            params={"flow_run_id": run_id},
            trust_env=False,
            timeout=30,
        ).json()
        return states

    def stop(self) -> None:
        for process in (self.runner, self.server):
            if process is not None:
                stop(process)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def read_environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


@contextmanager
def database(home: Path) -> Iterator[str]:
    """A fresh PostgreSQL database when the machine's server answers, else SQLite in
    ``home``; either outlives a killed API server."""
    name = f"remediate_faults_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except OSError:
        yield f"sqlite+aiosqlite:///{home}/prefect.db"
        return
    admin = os.environ.get("REMEDIATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/x")
    try:
        yield "postgresql+asyncpg://" + admin.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    home = tmp_path_factory.mktemp("faults")
    with database(home) as database_url:
        stack = FaultStack(
            home=home,
            port=free_port(),
            database_url=database_url,
            catalog=home / "catalog.yaml",
            data_dir=home / "data",
            extra_env={"GITHUB_TOKEN": STANDIN_TOKEN},
        )
        stack.write_catalog({"services": []})
        try:
            stack.start_api()
            stack.start_runner()
            yield stack
        finally:
            stack.stop()
