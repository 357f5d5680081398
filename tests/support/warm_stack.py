"""A real warm parent and a stock process worker on a pool whose job command is the launcher."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediate.devstack.workers import base_job_template, job_command
from tests.support.processes import start, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
FLOWS_MODULE = "tests.support.warm_flows"
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


@dataclass
class WarmStack:
    api_url: str
    pool: str
    home: Path
    env: dict[str, str]
    deployments: dict[str, str] = field(default_factory=dict)
    parent: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.home / "warm.sock"

    def start_parent(self) -> None:
        self.socket.unlink(missing_ok=True)
        args = [sys.executable, "-m", "remediate.warm.parent", "--socket", str(self.socket)]
        self.parent = start([*args, "--module", FLOWS_MODULE], self.env, self.home / "parent.log")
        wait_until(self.socket.exists, 120, "warm parent socket")

    def create_run(self, flow: str, **body: Any) -> str:
        answer = httpx.post(
            f"{self.api_url}/deployments/{self.deployments[flow]}/create_flow_run",
            json=body,
            trust_env=False,
        )
        answer.raise_for_status()
        return str(answer.json()["id"])

    def run(self, run_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.api_url}/flow_runs/{run_id}", trust_env=False)
        answer.raise_for_status()
        run: dict[str, Any] = answer.json()
        return run

    def wait_state(self, run_id: str, *names: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            state = run.get("state") or {}
            if state.get("name") in names or state.get("type") in names:
                return run
            assert state.get("type") not in FINAL, f"run ended {state}"
            assert time.monotonic() < deadline, f"run {run_id} not {names}: {state}"
            time.sleep(0.2)

    def logs(self, run_id: str) -> list[str]:
        answer = httpx.post(
            f"{self.api_url}/logs/filter",
            json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200},
            trust_env=False,
        )
        answer.raise_for_status()
        return [str(log["message"]) for log in answer.json()]

    def wait_logs(self, run_id: str, text: str, count: int = 1, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            logs = self.logs(run_id)
            if sum(text in line for line in logs) >= count:
                return logs
            assert time.monotonic() < deadline, f"{count} x {text!r} not in logs: {logs}"
            time.sleep(0.2)

    def task_runs(self, run_id: str) -> list[dict[str, Any]]:
        answer = httpx.post(
            f"{self.api_url}/task_runs/filter",
            json={"flow_runs": {"id": {"any_": [run_id]}}},
            trust_env=False,
        )
        answer.raise_for_status()
        runs: list[dict[str, Any]] = answer.json()
        return runs


def _deploy(pool: str) -> dict[str, str]:
    from prefect.types.entrypoint import EntrypointType

    from tests.support import warm_flows

    ids = {}
    for flow in (warm_flows.chatty, warm_flows.where, warm_flows.sleeper, warm_flows.gate):
        deployment = flow.to_deployment(
            name=pool, entrypoint_type=EntrypointType.MODULE_PATH, parameters={}
        )
        ids[flow.name] = str(deployment.apply(work_pool_name=pool))
    return ids


@pytest.fixture(scope="module")
def warm_stack(
    prefect_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WarmStack]:
    home = tmp_path_factory.mktemp("warm")
    pool = f"warm-{uuid.uuid4().hex[:8]}"
    answer = httpx.post(
        f"{prefect_server}/work_pools/",
        json={
            "name": pool,
            "type": "process",
            "base_job_template": base_job_template(job_command(True)),
        },
        trust_env=False,
    )
    answer.raise_for_status()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": prefect_server,
        "PREFECT_LOGGING_LEVEL": "INFO",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "results"),
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "REMEDIATE_WARM_SOCKET": str(home / "warm.sock"),
    }
    stack = WarmStack(prefect_server, pool, home, env, _deploy(pool))
    stack.start_parent()
    worker_args = ["prefect", "worker", "start", "--pool", pool, "--type", "process"]
    worker = start(
        [sys.executable, "-m", *worker_args, "--prefetch-seconds", "1", "--limit", "8"],
        env,
        home / "worker.log",
        cwd=home,
    )
    try:
        yield stack
    finally:
        stop(worker)
        if stack.parent is not None:
            for pid in children(stack.parent.pid):  # runs a failed test left behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            stop(stack.parent)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found
