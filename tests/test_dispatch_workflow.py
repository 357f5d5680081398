"""The `sentinel-alert` workflow forwards a repository_dispatch to the gateway unchanged:
its step runs here as GitHub runs it (`shell: python`, the event file, env secrets) against
a real gateway process."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from remediate.alerts import Alert
from tests.support.gateway import TOKEN, start_gateway_process
from tests.support.processes import free_port, http_ok, stop, wait_until

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW = WORKFLOWS / "sentinel-alert.yml"
HOSTILE = (
    "HTTP 500 $(touch {marker}) `touch {marker}` '; touch {marker}; echo ' ${{{{ secrets.X }}}}"
)


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def forward_step() -> dict[str, Any]:
    [step] = workflow()["jobs"]["forward"]["steps"]
    return step  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("dispatch-gateway")
    port = free_port()
    process = start_gateway_process(data_dir, f"http://127.0.0.1:{free_port()}/api", port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(http_ok(f"{url}/healthz"), 60, "gateway")
        yield url, data_dir
    finally:
        stop(process)


def dispatch_event(marker: Path) -> dict[str, Any]:
    """The event file GitHub writes for a repository_dispatch."""
    return {
        "action": "sentinel-alert",
        "branch": "main",
        "client_payload": {
            "alert_id": f"S1-probes-{marker.parent.name}",
            "check_id": "S1-probes",
            "status": "fail",
            "severity": "critical",
            "message": HOSTILE.format(marker=marker),
            "timestamp": "2026-11-27T14:11:09.106227",
            "latency_ms": 4.89,
            "details": {"note": "$(id)"},
            "source": "veris-sentinel",
            "environment": "development",
        },
        "repository": {"id": 1, "name": "ops", "full_name": "acme/ops", "private": True},
        "sender": {"login": "sentinel-bot", "id": 2, "type": "User"},
        "installation": {"id": 3},
    }


def run_step(event_file: Path, url: str, token: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    script = tmp / "step.py"
    script.write_text(forward_step()["run"], encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_EVENT_PATH": str(event_file),
        "GITHUB_REPOSITORY": "acme/ops",
        "REMEDIATE_GATEWAY_URL": url + "/",
        "REMEDIATE_DISPATCH_TOKEN": token,
    }
    return subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )


def test_workflow_takes_the_event_from_a_file_and_secrets_from_env() -> None:
    document = workflow()
    assert document[True] == {"repository_dispatch": {"types": ["sentinel-alert"]}}
    assert document["permissions"] == {}
    step = forward_step()
    assert step["shell"] == "python"
    assert "${{" not in step["run"]
    assert step["env"] == {
        "REMEDIATE_GATEWAY_URL": "${{ secrets.REMEDIATE_GATEWAY_URL }}",
        "REMEDIATE_DISPATCH_TOKEN": "${{ secrets.REMEDIATE_DISPATCH_TOKEN }}",
    }
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"].values():
            for each in job["steps"]:
                assert "github.event" not in each.get("run", ""), (path.name, each)


def test_the_step_forwards_the_payload_unchanged(gateway: tuple[str, Path], tmp_path: Path) -> None:
    url, data_dir = gateway
    marker = tmp_path / "pwned"
    event = dispatch_event(marker)
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    done = run_step(event_file, url, TOKEN, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "gateway answered 204"
    assert TOKEN not in done.stdout + done.stderr
    with contextlib.closing(sqlite3.connect(data_dir / "gateway-outbox.sqlite3")) as db:
        rows = [Alert.model_validate_json(a) for (a,) in db.execute("SELECT alert FROM outbox")]
    [alert] = [a for a in rows if a.id == event["client_payload"]["alert_id"]]
    sent = event["client_payload"]
    assert (alert.check_id, alert.summary, alert.source) == (
        sent["check_id"],
        sent["message"],
        "veris-sentinel",
    )
    assert alert.details["note"] == "$(id)"
    assert not marker.exists()


def test_a_refused_token_fails_the_job_without_retrying(
    gateway: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = gateway
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(dispatch_event(tmp_path / "m")), encoding="utf-8")
    done = run_step(event_file, url, "not-the-token", tmp_path)
    assert done.returncode == 1
    assert done.stdout.count("gateway answered 401") == 1
    assert "not-the-token" not in done.stdout + done.stderr
