"""Time from alert to "waiting for approval", and from approval to the PR being recorded,
through the `make up` stack: the gateway, the worker on the `remediate` pool, warm starts.

The model is the scripted stand-in (Read, Edit, answer), so this measures remediate's own
overhead: the worker, the warm (or cold) start, the clone, the Claude Code CLI,
suspend/resume, the push. It brings up its own stack with `remediate up`'s code (temporary
data directory, free ports, a catalog with one service whose repository is a local bare
repository, the local tracker), posts signed alerts to its gateway, approves each run with
the diff it shows, and stops the stack at the end. Alerts alternate between warm starts (the
pool's launcher) and cold ones (the deployment's job command set to `python -m
prefect.engine` until that alert's PR is recorded).

Usage: .venv/bin/python bench/approval_latency.py [--alerts 5] [--modes warm,cold]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediate.devstack import stack  # noqa: E402
from remediate.devstack.workers import job_command  # noqa: E402
from remediate.gateway.auth import SIGNATURE_HEADER, sign  # noqa: E402
from remediate.runs.auth import CLIENT_AUTH_ENV, auth_headers  # noqa: E402
from tests.support.model_server import ModelServer, Turn, text, tool  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.support.repos import make_bare_repo  # noqa: E402

SCRIPT = [
    Turn([tool("Read", file_path="app.py")]),
    Turn([tool("Edit", file_path="app.py", old_string="0.001", new_string="5.0")]),
    Turn([text("SUMMARY: raise the timeout\nRISK: low\nRATIONALE: -\nCHECKED: -")]),
]
DEPLOYMENT = "remediate-alert/remediate-alert"
APPROVER = "bench"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"median {statistics.median(ordered):.2f} s, p95 {p95:.2f} s,"
        f" min {ordered[0]:.2f} s, max {ordered[-1]:.2f} s (n={len(ordered)})"
    )


def catalog(repo: Path) -> dict[str, Any]:
    return {
        "services": [
            {
                "name": "bench",
                "checks": ["bench-*"],
                "repository": {"owner": "acme", "name": "bench", "clone_url": str(repo)},
            }
        ],
        "policy": {
            severity: {"verify": False, "diagnose": False, "open_issue": True}
            for severity in ("critical", "error", "warning")
        },
        "approval": {"approvers": [APPROVER]},
        "investigation": {"enabled": False},
        "tracker": {"kind": "local"},
    }


class Bench:
    def __init__(self, state: stack.StackState, secrets: dict[str, str]) -> None:
        self.state = state
        self.secret = secrets["REMEDIATE_HMAC_SECRETS"].split(",")[0]
        self.api = httpx.Client(
            base_url=state.prefect_api_url,
            headers=auth_headers(secrets[CLIENT_AUTH_ENV]),
            trust_env=False,
            timeout=30,
        )
        deployment = self.call("GET", f"/deployments/name/{DEPLOYMENT}").json()
        self.deployment_id = deployment["id"]
        self.declared = {
            k: v for k, v in (deployment["job_variables"] or {}).items() if k != "command"
        }
        self.pulls = Path(state.data_dir) / "pulls"

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The stack's SQLite-backed server answers 503 while its database is locked."""
        for delay in (0.2, 0.5, 1, 2, 4, 8):
            answer = self.api.request(method, path, **kwargs)
            if answer.status_code != 503:
                break
            time.sleep(delay)
        answer.raise_for_status()
        return answer

    def set_mode(self, mode: str) -> None:
        variables = dict(self.declared)
        if mode == "cold":
            variables["command"] = job_command(False)
        self.call("PATCH", f"/deployments/{self.deployment_id}", json={"job_variables": variables})

    def post_alert(self, check_id: str) -> None:
        body = json.dumps(
            {
                "check_id": check_id,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                "status": "fail",
                "latency_ms": 1.0,
                "message": "benchmark alert",
            }
        ).encode()
        answer = httpx.post(
            f"{self.state.gateway_url}/v1/alerts/sentinel",
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.secret, int(time.time()), body),
            },
            trust_env=False,
        )
        if answer.status_code != 202:
            raise RuntimeError(f"gateway answered {answer.status_code}: {answer.text}")

    def run_of(self, check_id: str) -> dict[str, Any] | None:
        query = {"flow_runs": {"tags": {"all_": [f"check:{check_id}"]}}}
        runs = self.call("POST", "/flow_runs/filter", json=query).json()
        return runs[0] if runs else None

    def wait_state(self, check_id: str, name: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run_of(check_id)
            state = (run or {}).get("state") or {}
            if run is not None and state.get("name") == name:
                return run
            if state.get("type") in ("FAILED", "CRASHED", "COMPLETED", "CANCELLED"):
                raise RuntimeError(f"{check_id}: run ended {state.get('name')}: {state}")
            time.sleep(0.05)
        raise TimeoutError(f"{check_id}: no run {name} after {timeout} s")

    def shown_sha256(self, run_id: str) -> str:
        value = self.call("GET", f"/flow_runs/{run_id}/input/suspended-fix-approval-schema").json()
        schema = json.loads(value) if isinstance(value, str) else value
        return str(schema["properties"]["diff_sha256"]["default"])

    def approve(self, run_id: str, sha256: str) -> None:
        run_input = {"decision": "approve", "approver": APPROVER, "diff_sha256": sha256}
        answer = self.call("POST", f"/flow_runs/{run_id}/resume", json={"run_input": run_input})
        if answer.json().get("status") != "ACCEPT":
            raise RuntimeError(f"resume refused: {answer.json()}")

    def pull_for(self, check_id: str) -> bool:
        for path in self.pulls.glob("*.json"):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being written
            if str(record["branch"]).startswith(f"remediate/{check_id}"):
                return True
        return False


def measure(bench: Bench, model: ModelServer, modes: list[str], alerts: int) -> int:
    to_waiting: dict[str, list[float]] = {m: [] for m in modes}
    to_pull: dict[str, list[float]] = {m: [] for m in modes}
    tag = int(time.time())
    print(f"before: {load()}", flush=True)
    try:
        for n in range(alerts * len(modes)):
            mode = modes[n % len(modes)]
            bench.set_mode(mode)
            model.play(*SCRIPT)
            check_id = f"bench-{tag}-{n}"
            bench.post_alert(check_id)
            acknowledged = time.perf_counter()
            run = bench.wait_state(check_id, "Suspended", 300)
            to_waiting[mode].append(time.perf_counter() - acknowledged)
            sha256 = bench.shown_sha256(run["id"])
            approved = time.perf_counter()
            bench.approve(run["id"], sha256)
            while not bench.pull_for(check_id):
                if time.perf_counter() - approved > 300:
                    raise TimeoutError(f"{check_id}: no PR recorded")
                time.sleep(0.02)
            to_pull[mode].append(time.perf_counter() - approved)
            bench.wait_state(check_id, "Completed", 300)
            print(
                f"alert {n + 1} {mode}: waiting after {to_waiting[mode][-1]:.2f} s,"
                f" PR {to_pull[mode][-1]:.2f} s after approval",
                flush=True,
            )
    finally:
        bench.set_mode("warm")
    print(f"after: {load()}")
    for mode in modes:
        print(f"{mode}: alert -> waiting for approval: {summary(to_waiting[mode])}")
        print(f"{mode}: approval -> PR recorded:       {summary(to_pull[mode])}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=5, help="per mode")
    parser.add_argument("--modes", default="warm,cold")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not modes or not set(modes) <= {"warm", "cold"}:
        print("--modes takes warm and/or cold", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="remediate-bench-approval-"))
    repo = make_bare_repo(home, "bench")
    (home / "catalog.yaml").write_text(yaml.safe_dump(catalog(repo)))
    model = ModelServer()
    model.start()
    os.environ.update(
        {
            "REMEDIATE_DATA_DIR": str(home / "stack"),
            "REMEDIATE_CATALOG": str(home / "catalog.yaml"),
            "REMEDIATE_PREFECT_PORT": str(free_port()),
            "REMEDIATE_DEMO_PORT": str(free_port()),
            "REMEDIATE_GATEWAY_PORT": str(free_port()),
            "REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE": "600",
            "ANTHROPIC_API_KEY": "sk-bench",
            "ANTHROPIC_BASE_URL": model.url,
        }
    )
    config = stack.StackConfig.from_env()
    try:
        state = stack.up(config)
        bench = Bench(state, stack.ensure_dev_secrets(config.secrets_file))
        return measure(bench, model, modes, args.alerts)
    finally:
        stack.down(config)
        model.stop()


if __name__ == "__main__":
    raise SystemExit(main())
