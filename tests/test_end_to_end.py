"""`remediate send` -> deployment run picked up by a real runner -> issue."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from remediate.trackers import LocalTracker
from remediate.trackers.local import LocalComment, LocalIssue
from tests.support.http_services import Service
from tests.support.stack import Runner

ROOT = Path(__file__).resolve().parent.parent


def send(
    runner: Runner, payload: dict[str, Any] | str, tmp_path: Path, succeed: bool = True
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"alert-{time.monotonic_ns()}.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    result = subprocess.run(
        [sys.executable, "-m", "remediate.cli", "send", str(path), "--json"],
        env=runner.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if succeed:
        assert result.returncode == 0, result.stderr
    return result


def wait_for_run(api: str, run_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = httpx.get(f"{api}/flow_runs/{run_id}").json()
        if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(0.25)
    raise TimeoutError(f"flow run {run_id} did not finish")


def recurrences(issue: LocalIssue) -> list[LocalComment]:
    return [c for c in issue.comments if c.body.startswith("Fired again")]


def sentinel(minute: int, check: str = "S1-probes") -> dict[str, Any]:
    return {
        "check_id": check,
        "timestamp": f"2026-11-27T15:{minute:02d}:00",
        "status": "fail",
        "latency_ms": 4.2,
        "message": "Unexpected status: HTTP 500",
        "details": {},
    }


def use_service(runner: Runner, service: Service, check: str) -> None:
    runner.write_catalog(
        {
            "services": [
                {"name": "web", "checks": [check], "health": [{"url": service.health_url}]}
            ],
            "verification": {"attempts": 2, "interval_s": 0.1},
        }
    )


def test_alert_to_issue_then_comment_then_self_resolved(
    remediate_runner: Runner, http_service: Service, tmp_path: Path
) -> None:
    runner = remediate_runner
    use_service(runner, http_service, "E2E-web")
    http_service.set(status=500)

    sent = send(runner, sentinel(1, "E2E-web"), tmp_path)
    assert sent.returncode == 0, sent.stderr
    first = json.loads(sent.stdout)
    assert first["created"] is True
    run = wait_for_run(runner.api_url, first["flow_run_id"])
    assert run["state_type"] == "COMPLETED", runner.log.read_text()[-3000:]
    assert {"remediate", "check:E2E-web", "service:web", "severity:critical"} <= set(run["tags"])
    assert "alert:E2E-web-1795791660" in run["tags"]

    again = send(runner, sentinel(1, "E2E-web"), tmp_path)
    assert json.loads(again.stdout) == first | {"created": False}

    second = json.loads(send(runner, sentinel(2, "E2E-web"), tmp_path).stdout)
    assert wait_for_run(runner.api_url, second["flow_run_id"])["state_type"] == "COMPLETED"

    tracker = LocalTracker(runner.data_dir / "issues")
    mine = [i for i in tracker.issues() if "check:E2E-web" in i.labels]
    assert len(mine) == 1
    assert len(recurrences(mine[0])) == 1
    assert first["flow_run_id"] in mine[0].body

    artifacts = httpx.post(
        f"{runner.api_url}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [first["flow_run_id"]]}}},
    ).json()
    assert {a["key"] for a in artifacts} == {"incident-report", "incident-issue"}

    listed = subprocess.run(
        [sys.executable, "-m", "remediate.cli", "runs", "--json", "--service", "web"],
        env=runner.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = json.loads(listed.stdout)
    assert {r["id"] for r in rows} == {first["flow_run_id"], second["flow_run_id"]}
    assert {r["issue"] for r in rows} == {(tracker.root / f"{mine[0].number}.md").as_uri()}

    http_service.set(status=200)
    healed = json.loads(send(runner, sentinel(3, "E2E-web"), tmp_path).stdout)
    run = wait_for_run(runner.api_url, healed["flow_run_id"])
    assert run["state_type"] == "COMPLETED"
    assert len(recurrences(tracker.get(mine[0].number))) == 1


def test_bad_alert_file_exits_2_with_the_field(remediate_runner: Runner, tmp_path: Path) -> None:
    bad = sentinel(4) | {"status": "exploded"}
    result = send(remediate_runner, bad, tmp_path, succeed=False)
    assert result.returncode == 2
    assert "status" in result.stderr and "exploded" not in result.stdout
    assert send(remediate_runner, "{not json", tmp_path, succeed=False).returncode == 2
    passing = send(remediate_runner, sentinel(4) | {"status": "pass"}, tmp_path, succeed=False)
    assert passing.returncode == 2 and "passed" in passing.stderr


def test_api_refuses_invalid_parameters(remediate_runner: Runner) -> None:
    api = remediate_runner.api_url
    deployment = httpx.get(f"{api}/deployments/name/remediate-alert/remediate-alert").json()
    response = httpx.post(
        f"{api}/deployments/{deployment['id']}/create_flow_run",
        json={"parameters": {"alert": {"id": "x", "severity": "apocalyptic"}}},
    )
    assert response.status_code == 409
    assert "severity" in response.text or "Validation" in response.text
