"""`remediate up` / `remediate down`: the local stack a newcomer starts with `make up`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from remediate.stack import alive
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
        timeout=240,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


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
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    try:
        printed = remediate(env, "up")
        state = json.loads((data / "stack.json").read_text())
        assert state["ui_url"] in printed
        assert set(state["pids"]) >= {"prefect-server", "runner", "demo-service"}
        assert httpx.get(f"{state['prefect_api_url']}/health").status_code == 200

        remediate(env, "up")
        assert json.loads((data / "stack.json").read_text())["pids"] == state["pids"]

        remediate(env, "demo", "break")
        sample = (ROOT / "examples/sentinel-check-result.json").read_text()
        sent = json.loads(remediate(env, "send", "-", "--json", stdin=sample))
        deadline = time.monotonic() + 120
        tracker = LocalTracker(data / "issues")
        while time.monotonic() < deadline and not tracker.issues():
            time.sleep(0.25)
        issues = tracker.issues()
        assert len(issues) == 1
        assert sent["flow_run_id"] in issues[0].body
        assert "service:demo" in issues[0].labels
    finally:
        remediate(env, "down")
    assert not (data / "stack.json").exists()
    assert not any(alive(pid) for pid in state["pids"].values())
