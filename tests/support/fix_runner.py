"""A runner serving the remediate-alert flow as its own deployment, wired to the scripted
model, for fix-approval tests, and the ``record-approval-timeouts`` deployment of
``prefect.yaml`` with its trigger (an automation on the test server). Run as a module it
serves; imported it gives fixtures."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.admin_service import ADMIN_TOKEN, ADMIN_TOKEN_ENV
from tests.support.model_server import ModelServer
from tests.support.processes import free_port, http_ok, start, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT_NAME = "fix-approval-test"
DEPLOYMENT = f"remediate-alert/{DEPLOYMENT_NAME}"
CAPACITY_DEPLOYMENT = f"capacity-forecast/{DEPLOYMENT_NAME}"
TIMEOUTS_DEPLOYMENT = "record-approval-timeouts/record-approval-timeouts"
TOKEN = "ghs_standin_token"  # the GitHub stand-in's default token
MODEL_KEY = "sk-scripted-model-key"
DECISION_KEY = "decision-key-for-tests-0123456789abcdef"  # REMEDIATE_DECISION_KEY


@dataclass
class FixRunner:
    api_url: str
    catalog: Path
    data_dir: Path
    log: Path
    model: ModelServer
    issues_port: int = 0
    """Where a gateway serving this runner's local issues may listen (REMEDIATE_ISSUES_URL)."""

    def write_catalog(self, catalog: dict[str, Any]) -> None:
        """Investigations are off unless the catalog asks for them: these runs are about
        fixes and actions, and the model's script is theirs."""
        catalog = {"investigation": {"enabled": False}, **catalog}
        self.catalog.write_text(yaml.safe_dump(catalog), encoding="utf-8")

    def run(self, run_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.api_url}/flow_runs/{run_id}", trust_env=False)
        response.raise_for_status()
        run: dict[str, Any] = response.json()
        return run

    def wait_for(self, run_id: str, *state_names: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            state = run.get("state") or {}
            if state.get("name") in state_names:
                return run
            ended = state.get("type") in ("FAILED", "CRASHED", "COMPLETED")
            if ended and state.get("name") not in state_names:
                raise AssertionError(f"run ended {state.get('name')}: {state.get('message')}")
            time.sleep(0.2)
        raise TimeoutError(f"run {run_id} not in {state_names} after {timeout} s: {run}")

    def wait_for_tag(self, run_id: str, wanted: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if wanted in run["tags"]:
                return run
            time.sleep(0.5)
        raise TimeoutError(f"run {run_id} not tagged {wanted} after {timeout} s: {run['tags']}")

    def runs_of(self, deployment: str) -> list[dict[str, Any]]:
        found = httpx.get(f"{self.api_url}/deployments/name/{deployment}", trust_env=False)
        found.raise_for_status()
        response = httpx.post(
            f"{self.api_url}/flow_runs/filter",
            json={"flow_runs": {"deployment_id": {"any_": [found.json()["id"]]}}},
            trust_env=False,
        )
        response.raise_for_status()
        runs: list[dict[str, Any]] = response.json()
        return runs

    def start_capacity_run(self) -> str:
        """A run of the capacity-forecast deployment this runner serves."""
        found = httpx.get(f"{self.api_url}/deployments/name/{CAPACITY_DEPLOYMENT}", trust_env=False)
        found.raise_for_status()
        for _ in range(5):
            response = httpx.post(
                f"{self.api_url}/deployments/{found.json()['id']}/create_flow_run",
                json={},
                trust_env=False,
            )
            if response.status_code != 503:
                break
            time.sleep(1)
        response.raise_for_status()
        return str(response.json()["id"])

    def resume(self, run_id: str, run_input: dict[str, Any]) -> dict[str, Any]:
        for _ in range(5):
            response = httpx.post(
                f"{self.api_url}/flow_runs/{run_id}/resume",
                json={"run_input": run_input},
                trust_env=False,
            )
            if response.status_code != 503:
                break
            time.sleep(1)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def shown_sha256(self, run_id: str, key: str = "fix-approval") -> str:
        """The diff hash the suspended run's form was pre-filled with (the diff shown)."""
        response = httpx.get(
            f"{self.api_url}/flow_runs/{run_id}/input/suspended-{key}-schema", trust_env=False
        )
        response.raise_for_status()
        value = response.json()
        schema = json.loads(value) if isinstance(value, str) else value
        return str(schema["properties"]["diff_sha256"]["default"])

    def logs(self, run_id: str) -> str:
        """What the run logged through Prefect, oldest first."""
        response = httpx.post(
            f"{self.api_url}/logs/filter",
            json={
                "logs": {"flow_run_id": {"any_": [run_id]}},
                "sort": "TIMESTAMP_ASC",
                "limit": 200,
            },
            trust_env=False,
        )
        response.raise_for_status()
        messages = [entry["message"] for entry in response.json()]
        assert messages, "the run wrote no logs"
        return "\n".join(messages)

    def wait_logs(self, run_id: str, text: str, timeout: float = 60) -> str:
        """The run's logs once ``text`` is among them (log lines reach the API after the
        run's states and tags do)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                logs = self.logs(run_id)
            except AssertionError:
                logs = ""
            if text in logs or time.monotonic() > deadline:
                assert text in logs, f"{text!r} not logged by run {run_id}:\n{logs[-3000:]}"
                return logs
            time.sleep(0.5)


@pytest.fixture(scope="session")
def fix_model() -> Iterator[ModelServer]:
    server = ModelServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fix_runner(
    prefect_server: str, fix_model: ModelServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FixRunner]:
    home = tmp_path_factory.mktemp("fix-runner")
    runner = FixRunner(
        prefect_server,
        home / "catalog.yaml",
        home / "data",
        home / "runner.log",
        fix_model,
        issues_port=free_port(),
    )
    runner.write_catalog({"services": []})
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_server,
        "REMEDIATE_CATALOG": str(runner.catalog),
        "REMEDIATE_DATA_DIR": str(runner.data_dir),
        "REMEDIATE_ISSUES_URL": f"http://127.0.0.1:{runner.issues_port}/issues",
        "ANTHROPIC_API_KEY": MODEL_KEY,
        "ANTHROPIC_BASE_URL": fix_model.url,
        "GITHUB_TOKEN": TOKEN,
        ADMIN_TOKEN_ENV: ADMIN_TOKEN,
        "REMEDIATE_DECISION_KEY": DECISION_KEY,
        "PYTHONPATH": str(ROOT),
    }
    process = start([sys.executable, "-m", "tests.support.fix_runner"], env, runner.log, cwd=ROOT)
    try:
        ready = [
            http_ok(f"{prefect_server}/deployments/name/{name}")
            for name in (DEPLOYMENT, CAPACITY_DEPLOYMENT, TIMEOUTS_DEPLOYMENT)
        ]

        def check() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"fix runner exited: {runner.log.read_text()[-2000:]}")
            return all(answer() for answer in ready)

        wait_until(check, 120, DEPLOYMENT)
        yield runner
    finally:
        stop(process)


def main() -> None:
    from prefect import serve
    from prefect.deployments.runner import EntrypointType

    from flows.capacity import capacity_forecast
    from flows.remediate_alert import remediate_alert
    from remediate.devstack.runner import runner_deployments

    deployments = [
        served.to_deployment(name=DEPLOYMENT_NAME, entrypoint_type=EntrypointType.MODULE_PATH)
        for served in (remediate_alert, capacity_forecast)
    ]
    deployments += runner_deployments(ROOT / "prefect.yaml", ["record-approval-timeouts"])
    serve(*deployments, query_seconds=1, limit=4, print_starting_message=False)


if __name__ == "__main__":
    main()
