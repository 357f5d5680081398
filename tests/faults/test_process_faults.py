"""Processes dying under a run: the run's own process (``kill -9`` mid-step) and the Prefect
API server (``kill -9``, then started again) while the run writes its issue."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from remediate.alerts import Alert
from remediate.catalog import Repository, load_catalog
from remediate.runs.tags import alert_tags
from remediate.trackers import IssueDraft
from remediate.trackers.github import ClientSettings, GitHubTracker
from remediate.trackers.token import GitHubToken
from tests.faults.cases import OWNER, alert, github_catalog
from tests.faults.conftest import STANDIN_TOKEN, FaultStack, log
from tests.faults.invariants import check
from tests.github_standin import GitHubStandIn
from tests.support.http_services import Service


def issues_path(service: str) -> str:
    return f"/repos/{OWNER}/{service}/issues"


def test_run_killed_mid_issue_write_is_started_again_and_writes_once(
    fault_stack: FaultStack, github_standin: GitHubStandIn, http_service: Service
) -> None:
    """The issue is created, then the run's process is killed before it hears so; the
    automation on Crashed starts the run again, which finds the issue and writes nothing
    twice."""
    service, check_id = "crash-web", "FAULT-crash"
    github_standin.add_repo(f"{OWNER}/{service}")
    http_service.set(status=500)
    fault_stack.write_catalog(
        github_catalog(service, check_id, http_service.health_url, github_standin.base_url)
    )
    fired = alert(check_id, 1)
    run_ids: list[str] = []
    kill_at: list[float] = []

    def kill_the_run() -> None:
        fault_stack.kill_run(run_ids[0])
        kill_at.append(time.monotonic())

    github_standin.after_next("POST", issues_path(service), kill_the_run)
    run_id = fault_stack.send(fired)
    run_ids.append(run_id)
    run = fault_stack.wait_for(run_id, {"COMPLETED", "FAILED", "CANCELLED"})
    recovered_s = time.monotonic() - kill_at[0]

    assert len(kill_at) == 1
    names = [s["name"] for s in fault_stack.states(run_id)]
    assert "Crashed" in names and "AwaitingRetry" in names, names
    assert run["state_type"] == "COMPLETED", fault_stack.runner_log.read_text()[-4000:]
    assert run["run_count"] == 2 and "crashes:1" in run["tags"]
    report = check(fault_stack.api, [fired.id], standin=github_standin, repo=f"{OWNER}/{service}")
    assert report.violations == []
    assert report.issues == 1
    log(f"worker kill -9 mid issue write: recovered in {recovered_s:.1f} s; {report.figures()}")


def crashed_run(stack: FaultStack, fired: Alert, *tags: str) -> str:
    """A remediation run as the runner leaves one whose process died: created Pending from
    the deployment (no runner takes it), then Crashed, which fires the automation."""
    api = stack.api
    deployment = httpx.get(f"{api}/deployments/name/remediate-alert/remediate-alert").json()
    created = httpx.post(
        f"{api}/deployments/{deployment['id']}/create_flow_run",
        json={
            "parameters": {"alert": fired.model_dump(mode="json")},
            "tags": [*alert_tags(fired), *tags],
            "state": {"type": "PENDING"},
        },
    ).json()
    return str(created["id"])


def crash(stack: FaultStack, run_id: str) -> None:
    crashed = {"type": "CRASHED", "message": "Process exited with status code: -9"}
    httpx.post(
        f"{stack.api}/flow_runs/{run_id}/set_state", json={"state": crashed, "force": True}
    ).raise_for_status()


def wait_for_tag(stack: FaultStack, run_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while wanted not in (run := stack.run(run_id))["tags"]:
        assert time.monotonic() < deadline, stack.runner_log.read_text()[-4000:]
        time.sleep(0.3)
    return run


def test_run_that_crashed_twice_before_is_left_visibly_for_a_person(
    fault_stack: FaultStack, github_standin: GitHubStandIn, http_service: Service
) -> None:
    """A third crash (``crashes:2`` already on the run, as the two restarts before left it;
    the first case shows a real restart counting): no restart; the run stays Crashed,
    tagged ``crashed-needs-attention``, and its alert's issue says so."""
    service, check_id = "crashloop-web", "FAULT-crashloop"
    repo = f"{OWNER}/{service}"
    github_standin.add_repo(repo)
    catalog = github_catalog(service, check_id, http_service.health_url, github_standin.base_url)
    fault_stack.write_catalog(catalog)
    fired = load_catalog(fault_stack.catalog).attribute(alert(check_id, 2))
    tracker = GitHubTracker(
        Repository.model_validate(catalog["services"][0]["repository"]),
        GitHubToken(SecretStr(STANDIN_TOKEN), "test"),
        client=ClientSettings.unpaced(),
    )
    draft = IssueDraft(
        fingerprint=fired.fingerprint,
        occurrence_key=fired.occurrence_key,
        title="crash loop",
        body="opened by the run's first attempt",
        comment="fired again",
    )
    issue = tracker.open_or_update(draft, datetime.now(UTC))
    run_id = crashed_run(fault_stack, fired, "crashes:2")
    crash(fault_stack, run_id)
    run = wait_for_tag(fault_stack, run_id, "crashed-needs-attention")
    assert run["state_type"] == "CRASHED" and run["run_count"] == 0
    assert "crashes:3" in run["tags"] and "crashes:2" not in run["tags"]
    report = check(fault_stack.api, [fired.id], standin=github_standin, repo=repo)
    assert report.violations == []
    [written] = github_standin.issues(repo)
    assert written.number == issue.number
    [note] = [c.body for c in written.comments if "crashed 3 times" in c.body]
    assert "needs a person" in note and "status code: -9" in note
    log(f"run crashing a third time: left Crashed for a person; {report.figures()}")


def test_prefect_api_killed_and_restarted_mid_run(
    fault_stack: FaultStack, github_standin: GitHubStandIn, http_service: Service
) -> None:
    """The API server dies (``kill -9``) while the run creates its issue and comes back a
    few seconds later on the same address and database: the run finishes, once."""
    service, check_id = "api-down-web", "FAULT-api-restart"
    repo = f"{OWNER}/{service}"
    github_standin.add_repo(repo)
    http_service.set(status=500)
    fault_stack.write_catalog(
        github_catalog(service, check_id, http_service.health_url, github_standin.base_url)
    )
    down = threading.Event()

    def kill_the_api() -> None:
        fault_stack.kill_api()
        down.set()

    github_standin.after_next("POST", issues_path(service), kill_the_api)
    fired = alert(check_id, 3)
    run_id = fault_stack.send(fired)
    assert down.wait(180), fault_stack.runner_log.read_text()[-4000:]
    killed_at = time.monotonic()
    fault_stack.start_api()
    back_s = time.monotonic() - killed_at
    run = fault_stack.wait_for(run_id)
    done_s = time.monotonic() - killed_at
    assert run["state_type"] == "COMPLETED", fault_stack.runner_log.read_text()[-4000:]
    report = check(fault_stack.api, [fired.id], standin=github_standin, repo=repo)
    assert report.violations == []
    assert report.issues == 1
    log(
        f"Prefect API kill -9 + restart mid issue write: API back after {back_s:.1f} s,"
        f" run completed {done_s:.1f} s after the kill; {report.figures()}"
    )


def test_run_crashed_after_its_runbook_action_started_is_not_started_again(
    fault_stack: FaultStack,
) -> None:
    """The action step is not cached: a second attempt would run the action twice. A run
    that crashed after it started is left Crashed for a person at once (no restart)."""
    fault_stack.write_catalog({"services": []})
    fired = alert("FAULT-crash-in-action", 4)
    run_id = crashed_run(fault_stack, fired)
    httpx.post(
        f"{fault_stack.api}/task_runs/",
        json={
            "flow_run_id": run_id,
            "task_key": "run-action",
            "dynamic_key": "0",
            "name": "run-action-restart",
            "state": {"type": "RUNNING"},
        },
    ).raise_for_status()
    crash(fault_stack, run_id)
    run = wait_for_tag(fault_stack, run_id, "crashed-needs-attention")
    assert run["state_type"] == "CRASHED" and run["run_count"] == 0
    assert "crashes:1" in run["tags"]
    report = check(fault_stack.api, [fired.id])
    assert report.violations == []
    log(f"run crashed after its runbook action started: left for a person; {report.figures()}")
