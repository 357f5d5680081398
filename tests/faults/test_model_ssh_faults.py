"""The model API and an SSH host failing under a run: the real Prefect server, sshd, Claude
Code CLI and scripted model, the flow run in this process as the investigation tests do."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.remediate_alert import remediate_alert
from remediate.alerts import Alert
from remediate.investigation.models import InvestigationStatus
from remediate.trackers import LocalTracker
from tests.faults.conftest import log
from tests.faults.invariants import check
from tests.support.model_server import ModelServer, Turn, text, tool
from tests.support.sshd import SSHServer
from tests.test_evidence_flow import ssh_host
from tests.test_investigation_flow import DF, RUN, conclusion


@pytest.fixture
def flow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: str) -> Path:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-model-key")
    return tmp_path


def write_catalog(
    where: Path, sshd: SSHServer, refused_url: str, container: str, **investigation: Any
) -> None:
    df = sshd.write_file("faults-df.txt", DF)
    service = {
        "name": "api",
        "checks": ["FAULT-*"],
        "health": [{"url": refused_url, "timeout_s": 1}],
        "hosts": [ssh_host(sshd, "web-1", sshd.ports[0])],
        "logs": [{"name": "app", "kind": "container", "container": container}],
        "actions": [
            {
                "name": "clean-tmp",
                "description": "remove old temporary files",
                "risk": "low",
                "run": ["true"],
            }
        ],
    }
    catalog = {
        "services": [service],
        "policy": {"critical": {"propose_fix": False, "run_actions": False}},
        "verification": {"attempts": 1, "interval_s": 0},
        "evidence": {
            "limits": {"connect_timeout_s": 5, "command_timeout_s": 10},
            "commands": {"disk-usage": ["cat", str(df)]},
        },
        "investigation": {"max_turns": 6, **investigation},
    }
    (where / "catalog.yaml").write_text(yaml.safe_dump(catalog))


def fired(check_id: str) -> Alert:
    return Alert.from_sentinel(
        {
            "check_id": check_id,
            "timestamp": "2026-11-28T11:00:00",
            "status": "fail",
            "message": "write errors on api",
        }
    )


SCRIPT = (
    Turn([tool(RUN, host="web-1", command="disk-usage")]),
    Turn([conclusion("/dev/sda1 1000 1000 0 100% /var")]),
    Turn([text("submitted")]),
)


async def run_case(
    flow_env: Path, prefect_server: str, model: ModelServer | None, alert: Alert
) -> tuple[Any, float]:
    started = time.monotonic()
    outcome = await remediate_alert(alert)
    took = time.monotonic() - started
    report = check(
        prefect_server, [alert.id], local_issues=flow_env / "data" / "issues", model=model
    )
    assert report.violations == []
    assert report.issues == 1
    return outcome, took


@pytest.mark.parametrize("mode", ["overloaded", "error500"])
async def test_model_api_failing_briefly_is_asked_again(
    flow_env: Path,
    sshd: SSHServer,
    refused_url: str,
    model_server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
    mode: str,
) -> None:
    """529 overloaded or 500, twice: the CLI asks again; one session reaches its conclusion."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)
    sshd.write_container_log("api-faults", "ERROR write /var/data: No space left on device\n")
    write_catalog(flow_env, sshd, refused_url, "api-faults")
    model_server.play(*SCRIPT)
    model_server.mode, model_server.failures = mode, 2  # type: ignore[assignment]
    alert = fired(f"FAULT-model-{mode}")
    outcome, took = await run_case(flow_env, prefect_server, model_server, alert)
    assert outcome.investigation.status is InvestigationStatus.COMPLETED, outcome.investigation
    assert model_server.failures is None and model_server.mode == "script"  # both were given
    log(f"model API {mode} x2: investigation completed, run took {took:.1f} s")


@pytest.mark.parametrize("mode", ["overloaded", "error500"])
async def test_model_api_failing_for_longer_leaves_the_issue_saying_why(
    flow_env: Path,
    sshd: SSHServer,
    refused_url: str,
    model_server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
    mode: str,
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)
    sshd.write_container_log("api-faults", "ERROR write /var/data: No space left on device\n")
    write_catalog(flow_env, sshd, refused_url, "api-faults")
    model_server.play(*SCRIPT)
    model_server.mode = mode  # type: ignore[assignment]
    alert = fired(f"FAULT-model-down-{mode}")
    outcome, took = await run_case(flow_env, prefect_server, model_server, alert)
    investigation = outcome.investigation
    assert investigation.status is InvestigationStatus.FAILED
    status = "529" if mode == "overloaded" else "500"
    assert f"HTTP {status}" in investigation.reason, investigation.reason
    assert len(model_server.model_requests()) == 3  # the first ask and two more
    [issue] = LocalTracker(flow_env / "data" / "issues").issues()
    [note] = [c.body for c in issue.comments if c.key.endswith(":investigation")]
    assert f"HTTP {status}" in note
    log(f"model API {mode} throughout: investigation failed visibly, run took {took:.1f} s")


async def test_model_api_hanging_is_cut_by_the_session_time_limit(
    flow_env: Path,
    sshd: SSHServer,
    refused_url: str,
    model_server: ModelServer,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)
    sshd.write_container_log("api-faults", "ERROR write /var/data: No space left on device\n")
    write_catalog(flow_env, sshd, refused_url, "api-faults", timeout_s=6)
    model_server.mode = "hang"
    alert = fired("FAULT-model-hang")
    outcome, took = await run_case(flow_env, prefect_server, model_server, alert)
    assert outcome.investigation.status is InvestigationStatus.FAILED
    assert outcome.investigation.reason == "no result within the 6 s time limit"
    log(f"model API hanging: cut at the 6 s session limit, run took {took:.1f} s")


async def test_ssh_host_dropping_the_connection_mid_output(
    flow_env: Path, sshd: SSHServer, refused_url: str, prefect_server: str
) -> None:
    """The log command prints a line, then its sshd session is killed: the run goes on,
    the issue says the host's logs could not be read and why."""
    write_catalog(flow_env, sshd, refused_url, "dropped", enabled=False)
    alert = fired("FAULT-ssh-dropped")
    outcome, took = await run_case(flow_env, prefect_server, None, alert)
    assert outcome.logs is not None
    [source] = outcome.logs.sources
    assert source.failure is not None and source.error, source
    assert any("printed before the connection drops" in line for line in source.lines)
    [issue] = LocalTracker(flow_env / "data" / "issues").issues()
    assert source.error in issue.body, issue.body
    assert "printed before the connection drops" in issue.body
    log(
        f"SSH connection dropped mid-output: {source.failure.value} ({source.error}),"
        f" {len(source.lines)} line(s) kept; run took {took:.1f} s"
    )
