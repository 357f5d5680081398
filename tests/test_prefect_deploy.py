"""`prefect deploy --all` from a checkout, by hand as docs/workers.md describes, then a run of
one of its deployments on a stock process worker with a cold engine as the pool's command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediate.devstack.runner import module_entrypoint, read_deployments
from remediate.devstack.workers import POOL, base_job_template, job_command
from tests.support.processes import (
    free_port,
    http_ok,
    start,
    start_prefect_server,
    stop,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent


def prefect(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[str]:
    """A Prefect server of this test alone: no other test's worker polls its pool."""
    port = free_port()
    database = f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}"
    home = tmp_path / "prefect-home"
    log = tmp_path / "prefect-server.log"
    process = start_prefect_server(port, home, database, dict(os.environ), log)
    api = f"http://127.0.0.1:{port}/api"
    try:
        wait_until(http_ok(f"{api}/health"), 120, "prefect server")
        yield api
    finally:
        stop(process)


@pytest.fixture
def deployed(own_server: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    prefect_server = own_server
    template = tmp_path / "work-pool.json"
    template.write_text(json.dumps(base_job_template(job_command(False))))
    (tmp_path / "catalog.yaml").write_text("services: []\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": prefect_server,
        "REMEDIATE_HOME": str(ROOT),
        "REMEDIATE_CATALOG": str(tmp_path / "catalog.yaml"),
        "REMEDIATE_DATA_DIR": str(tmp_path / "data"),
    }
    pool_args = ["work-pool", "create", POOL, "--type", "process"]
    prefect(env, *pool_args, "--base-job-template", str(template), "--overwrite")
    try:
        prefect(env, "deploy", "--all")
        yield env, prefect_server
    finally:
        found = httpx.post(
            f"{prefect_server}/deployments/filter",
            json={"work_pools": {"name": {"any_": [POOL]}}},
            trust_env=False,
        )
        for deployment in found.json():
            httpx.delete(f"{prefect_server}/deployments/{deployment['id']}", trust_env=False)


def test_deploy_all_registers_every_deployment_and_a_worker_runs_it(
    deployed: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, api = deployed
    found = httpx.post(
        f"{api}/deployments/filter",
        json={"work_pools": {"name": {"any_": [POOL]}}},
        trust_env=False,
    ).json()
    by_name = {d["name"]: d for d in found}
    declared = read_deployments(ROOT / "prefect.yaml")
    assert set(by_name) == {spec.name for spec in declared}
    for spec in declared:
        variables = by_name[spec.name]["job_variables"]
        assert variables["working_dir"] == str(ROOT)
        assert variables["env"]["PREFECT__FLOW_ENTRYPOINT"] == module_entrypoint(spec.entrypoint)
        assert by_name[spec.name]["entrypoint"] == spec.entrypoint

    target = by_name["record-approval-timeouts"]
    created = httpx.post(
        f"{api}/deployments/{target['id']}/create_flow_run", json={}, trust_env=False
    )
    created.raise_for_status()
    run_id = created.json()["id"]
    worker_env = env | {"PREFECT_WORKER_QUERY_SECONDS": "1"}
    worker = start(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process"],
        worker_env,
        tmp_path / "worker.log",
        cwd=tmp_path,
    )
    try:
        run = _final(api, run_id)
    finally:
        stop(worker)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    logs = _logs(api, run_id)
    assert logs, "the run wrote no logs"
    # The job variables name the entrypoint: the engine neither reads the deployment nor runs
    # its pull step.
    assert not any("pull step" in line for line in logs), logs


def _final(api: str, run_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = httpx.get(f"{api}/flow_runs/{run_id}", trust_env=False).json()
        if (run.get("state") or {}).get("type") in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} not final: {run.get('state')}"
        time.sleep(0.25)


def _logs(api: str, run_id: str) -> list[str]:
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.post(
            f"{api}/logs/filter",
            json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200},
            trust_env=False,
        )
        lines = [str(log["message"]) for log in answer.json()]
        if any("Finished in state" in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.25)
