"""`remediate up` / `remediate down`: the local stack a newcomer starts with `make up`."""

from __future__ import annotations

import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from remediate.devstack.runner import read_deployments
from remediate.devstack.stack import alive, read_secrets
from remediate.runs.auth import CLIENT_AUTH_ENV, auth_headers
from remediate.trackers import LocalTracker
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def remediate(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "remediate.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.25)


@pytest.mark.timeout(900)
def test_up_send_down(tmp_path: Path) -> None:
    data = tmp_path / "stack"
    demo_port = free_port()
    catalog = tmp_path / "remediate.yaml"
    default = (ROOT / "remediate.yaml").read_text()
    catalog.write_text(default.replace("127.0.0.1:8787", f"127.0.0.1:{demo_port}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REMEDIATE_"))}
    env |= {
        "REMEDIATE_DATA_DIR": str(data),
        "REMEDIATE_PREFECT_PORT": str(free_port()),
        "REMEDIATE_DEMO_PORT": str(demo_port),
        "REMEDIATE_CATALOG": str(catalog),
        "REMEDIATE_GATEWAY_PORT": str(free_port()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    try:
        printed = remediate(env, "up")
        state = json.loads((data / "stack.json").read_text())
        assert state["ui_url"] in printed
        assert set(state["pids"]) == {
            "prefect-server",
            "demo-service",
            "warm-parent",
            "worker",
            "gateway",
        }
        assert httpx.get(f"{state['prefect_api_url']}/health").status_code == 200
        api = httpx.Client(
            base_url=state["prefect_api_url"],
            headers=auth_headers(read_secrets(data / "secrets.env")[CLIENT_AUTH_ENV]),
            trust_env=False,
        )
        deployments = api.post("/deployments/filter", json={}).json()
        declared = {spec.name for spec in read_deployments(ROOT / "prefect.yaml")}
        assert {d["name"] for d in deployments} == declared
        assert {d["work_pool_name"] for d in deployments} == {"remediate"}
        pool = api.get("/work_pools/remediate").json()
        command = pool["base_job_template"]["variables"]["properties"]["command"]["default"]
        assert command.endswith("-m remediate.warm.launcher")

        remediate(env, "up")
        assert json.loads((data / "stack.json").read_text())["pids"] == state["pids"]

        secrets_file = data / "secrets.env"
        assert secrets_file.stat().st_mode & 0o777 == 0o600
        assert httpx.get(f"{state['gateway_url']}/healthz").status_code == 200

        remediate(env, "demo", "break")
        sample = (ROOT / "examples/sentinel-check-result.json").read_text()
        sent = json.loads(remediate(env, "send", "-", "--json", stdin=sample))
        tracker = LocalTracker(data / "issues")
        wait_for(lambda: len(tracker.issues()) == 1)
        issue = tracker.issues()[0]
        assert sent["flow_run_id"] in issue.body
        assert "service:demo" in issue.labels
        run = api.get(f"/flow_runs/{sent['flow_run_id']}").json()
        assert run["work_pool_name"] == "remediate"
        assert run["state"]["type"] in ("RUNNING", "COMPLETED")

        def started_warm() -> bool:
            # The line is sent in the background with the run's other lines.
            logs = api.post(
                "/logs/filter", json={"logs": {"flow_run_id": {"any_": [sent["flow_run_id"]]}}}
            ).json()
            return any(log["message"].startswith("warm start: forked") for log in logs)

        wait_for(started_warm, timeout=60)

        assert len(read_secrets(secrets_file)["REMEDIATE_MARKER_KEY"]) == 64
        secret = read_secrets(secrets_file)["REMEDIATE_HMAC_SECRETS"].split(",")[0]
        body = sample.replace("14:11:09", "14:21:09").encode()
        stamp = str(int(time.time()))
        signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, "sha256").hexdigest()
        answer = httpx.post(
            f"{state['gateway_url']}/v1/alerts/sentinel",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Remediate-Signature": f"t={stamp},v1={signature}",
            },
        )
        assert answer.status_code == 202, answer.text
        wait_for(lambda: len(tracker.get(issue.number).comments) >= 1)
    finally:
        remediate(env, "down")
    assert not (data / "stack.json").exists()
    assert not any(alive(pid) for pid in state["pids"].values())


def stack_processes(data: Path) -> list[int]:
    """Processes whose environment names ``data`` as their data directory."""
    marker = f"REMEDIATE_DATA_DIR={data}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ:
            found.append(int(entry.name))
    return found


@pytest.mark.timeout(900)
def test_up_stops_what_it_started_when_a_component_fails_to_start(tmp_path: Path) -> None:
    data = tmp_path / "stack"
    # the gateway's port is held by a listener that never answers: the gateway cannot bind
    # and exits, after the server, the demo service, the warm parent and the worker started
    holder = socket.create_server(("127.0.0.1", 0))
    gateway_port = holder.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REMEDIATE_"))}
    env |= {
        "REMEDIATE_DATA_DIR": str(data),
        "REMEDIATE_PREFECT_PORT": str(free_port()),
        "REMEDIATE_DEMO_PORT": str(free_port()),
        "REMEDIATE_GATEWAY_PORT": str(gateway_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "remediate.cli", "up"],
            env=env,
            capture_output=True,
            text=True,
            timeout=400,
            check=False,
            cwd=ROOT,
        )
    finally:
        holder.close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gateway exited" in result.stderr
    for name in ("prefect-server", "demo-service", "warm-parent", "worker"):
        assert f"starting {name}" in result.stdout
    assert not (data / "stack.json").exists()
    assert stack_processes(data) == []
