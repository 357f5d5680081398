"""GitHub failing under a run: 502/503 for a while, a 502 after the write was applied, a
secondary rate limit with ``Retry-After``, and a refused token for a while."""

from __future__ import annotations

import time

from tests.faults.cases import OWNER, alert, github_catalog
from tests.faults.conftest import FaultStack, log
from tests.faults.invariants import check
from tests.github_standin import GitHubStandIn
from tests.github_standin.faults import bad_credentials, secondary_rate_limit, server_error
from tests.support.http_services import Service


def use(stack: FaultStack, standin: GitHubStandIn, health: Service, service: str) -> str:
    repo = f"{OWNER}/{service}"
    standin.add_repo(repo)
    health.set(status=500)
    stack.write_catalog(github_catalog(service, service, health.health_url, standin.base_url))
    return repo


def test_github_answering_502_and_503_for_a_while(
    fault_stack: FaultStack, github_standin: GitHubStandIn, http_service: Service
) -> None:
    """Reads answered 502 are sent again at once by the client; the issue write answered 503
    twice is retried by the task, which looks for the issue before writing."""
    repo = use(fault_stack, github_standin, http_service, "gh5xx")
    github_standin.faults.inject(server_error(502), times=3, method="GET")
    github_standin.faults.inject(
        server_error(503), times=2, method="POST", path=f"/repos/{repo}/issues"
    )
    fired = alert("gh5xx", 1)
    started = time.monotonic()
    run = fault_stack.wait_for(fault_stack.send(fired))
    took = time.monotonic() - started
    assert run["state_type"] == "COMPLETED", fault_stack.runner_log.read_text()[-4000:]
    assert github_standin.faults.exhausted
    report = check(fault_stack.api, [fired.id], standin=github_standin, repo=repo)
    assert report.violations == [] and report.issues == 1
    log(
        f"GitHub 502 x3 + 503 x2 on the issue write: alert to Completed {took:.1f} s;"
        f" {report.figures()}"
    )


def test_github_502_after_the_issue_was_created_does_not_open_a_second(
    fault_stack: FaultStack, github_standin: GitHubStandIn, http_service: Service
) -> None:
    """GitHub creates the issue, then its front end answers 502: the write is not sent
    again blindly; the task's retry finds the issue by its label and marker."""
    repo = use(fault_stack, github_standin, http_service, "gh502applied")
    github_standin.faults.inject(
        server_error(502), times=1, method="POST", path=f"/repos/{repo}/issues", applied=True
    )
    fired = alert("gh502applied", 2)
    run = fault_stack.wait_for(fault_stack.send(fired))
    assert run["state_type"] == "COMPLETED", fault_stack.runner_log.read_text()[-4000:]
    posts = [
        r for r in github_standin.requests if r[:2] == ("POST", f"/api/v3/repos/{repo}/issues")
    ]
    assert len(posts) == 1
    report = check(fault_stack.api, [fired.id], standin=github_standin, repo=repo)
    assert report.violations == [] and report.issues == 1
    log(f"GitHub 502 after the issue was created: {report.figures()}")


def test_github_secondary_rate_limit_is_waited_out(
    fault_stack: FaultStack, github_standin: GitHubStandIn, http_service: Service
) -> None:
    """403 with ``Retry-After: 3`` on the issue write: the client waits at least that long,
    then sends it again (a rate-limited write was not applied)."""
    repo = use(fault_stack, github_standin, http_service, "ghratelimit")
    path = f"/repos/{repo}/issues"
    github_standin.faults.inject(secondary_rate_limit(3), times=1, method="POST", path=path)
    retried: list[float] = []
    github_standin.before_next(
        "POST",
        path,
        lambda: github_standin.before_next("POST", path, lambda: retried.append(time.monotonic())),
    )
    fired = alert("ghratelimit", 3)
    run = fault_stack.wait_for(fault_stack.send(fired))
    assert run["state_type"] == "COMPLETED", fault_stack.runner_log.read_text()[-4000:]
    [(_, _, status, limited_at)] = github_standin.faults.injected
    assert status == 403 and retried
    waited = retried[0] - limited_at
    assert waited >= 3
    report = check(fault_stack.api, [fired.id], standin=github_standin, repo=repo)
    assert report.violations == [] and report.issues == 1
    log(
        f"GitHub 403 secondary rate limit, Retry-After 3: retried after {waited:.1f} s;"
        f" {report.figures()}"
    )


def test_github_refusing_the_token_for_a_while(
    fault_stack: FaultStack, github_standin: GitHubStandIn, http_service: Service
) -> None:
    """401 Bad credentials: no retry can help, so the run fails at once saying which token
    was refused; once the token works again the next occurrence opens the issue."""
    repo = use(fault_stack, github_standin, http_service, "ghbadtoken")
    github_standin.faults.inject(bad_credentials(), times=10_000)
    refused = alert("ghbadtoken", 4)
    run = fault_stack.wait_for(fault_stack.send(refused))
    assert run["state_type"] == "FAILED"
    assert "refused the token from" in run["state"]["message"]
    assert "GITHUB_TOKEN" in run["state"]["message"]
    assert github_standin.issues(repo) == []
    github_standin.faults.pending.clear()
    fired = alert("ghbadtoken", 5)
    run = fault_stack.wait_for(fault_stack.send(fired))
    assert run["state_type"] == "COMPLETED", fault_stack.runner_log.read_text()[-4000:]
    report = check(fault_stack.api, [refused.id, fired.id], standin=github_standin, repo=repo)
    assert report.violations == [] and report.issues == 1
    log(
        "GitHub 401 for a while: the run during it Failed visibly, the next opened the"
        f" issue; {report.figures()}"
    )
