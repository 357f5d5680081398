"""Time from alert to "waiting for approval", and from approval to the PR being recorded.

The model is the scripted stand-in (Read, Edit, answer), so this measures remediate's own
overhead: Prefect scheduling, the clone, the Claude Code CLI, suspend/resume, the push.
Starts its own Prefect server, runner and scripted model; local tracker and a local bare
repository. Usage: .venv/bin/python bench/approval_latency.py [--alerts 5]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
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

from remediate.runs.auth import auth_headers  # noqa: E402
from tests.support.fix_runner import DEPLOYMENT  # noqa: E402
from tests.support.model_server import ModelServer, Turn, text, tool  # noqa: E402
from tests.support.processes import (  # noqa: E402
    free_port,
    http_ok,
    start,
    start_prefect_server,
    stop,
    wait_until,
)
from tests.support.repos import make_bare_repo  # noqa: E402

SCRIPT = [
    Turn([tool("Read", file_path="app.py")]),
    Turn([tool("Edit", file_path="app.py", old_string="0.001", new_string="5.0")]),
    Turn([text("SUMMARY: raise the timeout\nRISK: low\nRATIONALE: -\nCHECKED: -")]),
]
CREDENTIAL = f"bench:{secrets.token_urlsafe(24)}"
AUTH = auth_headers(CREDENTIAL)


def state_of(api: str, run_id: str) -> str:
    run = httpx.get(f"{api}/flow_runs/{run_id}", headers=AUTH, trust_env=False).json()
    return str((run.get("state") or {}).get("name"))


def wait_state(api: str, run_id: str, name: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = state_of(api, run_id)
        if current == name:
            return
        if current in ("Failed", "Crashed", "Completed") and current != name:
            raise RuntimeError(f"run {run_id} ended {current} while waiting for {name}")
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} not {name} after {timeout} s")


def summary(values: list[float]) -> str:
    return (
        f"mean {statistics.mean(values):.2f} s, median {statistics.median(values):.2f} s,"
        f" min {min(values):.2f} s, max {max(values):.2f} s (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="remediate-bench-approval-"))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server = start_prefect_server(
        port,
        home / "server",
        f"sqlite+aiosqlite:///{home}/prefect.db",
        dict(os.environ),
        home / "server.log",
        credential=CREDENTIAL,
    )
    model = ModelServer()
    model.start()
    runner = None
    try:
        wait_until(http_ok(f"{api}/health"), 180, "Prefect server")
        repo = make_bare_repo(home, "bench")
        catalog = {
            "services": [
                {
                    "name": "bench",
                    "checks": ["bench-*"],
                    "repository": {"owner": "acme", "name": "bench", "clone_url": str(repo)},
                }
            ],
            "policy": {"critical": {"verify": False, "diagnose": False}},
            "approval": {"approvers": ["bench"]},
            "tracker": {"kind": "local"},
        }
        (home / "catalog.yaml").write_text(yaml.safe_dump(catalog))
        runner_env = {
            **os.environ,
            "PREFECT_API_URL": api,
            "PREFECT_API_AUTH_STRING": CREDENTIAL,
            "PREFECT_HOME": str(home / "client"),
            "REMEDIATE_CATALOG": str(home / "catalog.yaml"),
            "REMEDIATE_DATA_DIR": str(home / "data"),
            "ANTHROPIC_API_KEY": "sk-bench",
            "ANTHROPIC_BASE_URL": model.url,
            "PYTHONPATH": str(ROOT),
        }
        runner = start(
            [sys.executable, "-m", "tests.support.fix_runner"],
            runner_env,
            home / "runner.log",
            cwd=ROOT,
        )
        wait_until(http_ok(f"{api}/deployments/name/{DEPLOYMENT}", AUTH), 180, "deployment")
        deployment_id = httpx.get(
            f"{api}/deployments/name/{DEPLOYMENT}", headers=AUTH, trust_env=False
        ).json()["id"]
        to_waiting, to_pull = [], []
        for n in range(args.alerts):
            model.play(*SCRIPT)
            alert: dict[str, Any] = {
                "id": f"bench-{n}",
                "source": "bench",
                "check_id": f"bench-{n}",
                "severity": "critical",
                "summary": "benchmark",
                "fired_at": "2026-01-01T00:00:00Z",
            }
            started = time.perf_counter()
            created = httpx.post(
                f"{api}/deployments/{deployment_id}/create_flow_run",
                json={"parameters": {"alert": alert}},
                headers=AUTH,
                trust_env=False,
            ).json()
            run_id = created["id"]
            wait_state(api, run_id, "Suspended")
            to_waiting.append(time.perf_counter() - started)
            approved = time.perf_counter()
            answer = httpx.post(
                f"{api}/flow_runs/{run_id}/resume",
                json={"run_input": {"approved": True, "approver": "bench"}},
                headers=AUTH,
                trust_env=False,
            ).json()
            if answer.get("status") != "ACCEPT":
                raise RuntimeError(f"resume refused: {answer}")
            pulls = home / "data" / "pulls"
            while True:
                records = [json.loads(p.read_text()) for p in pulls.glob("*.json")]
                if any(r["branch"] == f"remediate/bench-{n}" for r in records):
                    break
                if time.perf_counter() - approved > 300:
                    raise TimeoutError("no PR recorded")
                time.sleep(0.05)
            to_pull.append(time.perf_counter() - approved)
            wait_state(api, run_id, "Completed")
            print(f"alert {n}: waiting after {to_waiting[-1]:.2f} s, PR {to_pull[-1]:.2f} s")
        print(f"alert -> waiting for approval: {summary(to_waiting)}")
        print(f"approval -> PR recorded:       {summary(to_pull)}")
    finally:
        if runner is not None:
            stop(runner)
        model.stop()
        stop(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
