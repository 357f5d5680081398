"""Deciding on a proposed fix in the Prefect UI itself, with headless Chromium, as a person
would: open the link the project printed, read the form, choose, and see what happened.
Screenshots of the form are kept under the test's tmp dir."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from remediate.cli import main as remediate_main
from tests.support.fix_runner import DEPLOYMENT, FixRunner
from tests.support.gateway import start_gateway_process
from tests.support.processes import free_port, http_ok, stop, wait_until
from tests.support.repos import git
from tests.support.webhook_sink import WebhookSink
from tests.test_fix_approval import READ_EDIT, alert, local_catalog, local_issue

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUN_LINK = re.compile(r"\[Prefect flow run\]\((http://[^)\s]+)\)")


def submit(runner: FixRunner, check_id: str) -> str:
    deployment = httpx.get(f"{runner.api_url}/deployments/name/{DEPLOYMENT}", trust_env=False)
    # The test server keeps its state in SQLite, which answers 503 while it is locked.
    for _ in range(10):
        created = httpx.post(
            f"{runner.api_url}/deployments/{deployment.json()['id']}/create_flow_run",
            json={
                "parameters": {"alert": alert(check_id).model_dump(mode="json")},
                "idempotency_key": f"ui-{check_id}",
            },
            trust_env=False,
        )
        if created.status_code != 503:
            break
        time.sleep(1)
    created.raise_for_status()
    return str(created.json()["id"])


def waiting_run(runner: FixRunner, check_id: str, service_repo: Path, **catalog: Any) -> str:
    runner.write_catalog(local_catalog(check_id, service_repo, **catalog))
    runner.model.play(*READ_EDIT)
    run_id = submit(runner, check_id)
    runner.wait_for(run_id, "Suspended")
    return run_id


def printed_link(runner: FixRunner, check_id: str) -> str:
    """The run link the issue carries (what a person clicks)."""
    found = RUN_LINK.search(local_issue(runner, check_id)["body"])
    assert found is not None, "the issue carries no run link"
    return found.group(1)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


VIEWER = ("viewer", "issue-pages-test-pass")


@pytest.fixture
def issue_pages(fix_runner: FixRunner) -> Iterator[str]:
    """A gateway serving the runner's local issues on the port its issue links name."""
    process = start_gateway_process(
        fix_runner.data_dir,
        fix_runner.api_url,
        fix_runner.issues_port,
        PREFECT_API_AUTH_STRING=":".join(VIEWER),
    )
    url = f"http://127.0.0.1:{fix_runner.issues_port}"
    try:
        wait_until(http_ok(f"{url}/healthz"), 60, "gateway")
        yield url
    finally:
        stop(process)


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        yield opened
    finally:
        opened.screenshot(path=str(tmp_path / "last-page.png"), full_page=True)
        (tmp_path / "last-page.html").write_text(opened.content())
        opened.close()


def open_form(page: Page, link: str, run_id: str) -> Locator:
    page.goto(link)
    assert run_id in page.url and "/v2/" in page.url
    page.get_by_role("button", name="Open menu").first.click(timeout=60_000)
    page.get_by_role("menuitem", name="Resume").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Proposed fix awaiting approval", timeout=30_000)
    return dialog


def choose(page: Page, dialog: Locator, label: str, option: str) -> None:
    dialog.locator(f"button[aria-label='Select {label}']").click()
    page.get_by_role("option", name=option, exact=True).click()


def decide(page: Page, dialog: Locator, decision: str, approver: str, comment: str) -> None:
    choose(page, dialog, "Decision", decision)
    choose(page, dialog, "Approver", approver)
    dialog.get_by_role("textbox", name="Comment (Optional)").fill(comment)


def wait_for_round(runner: FixRunner, run_id: str, round_number: int) -> None:
    """Until the run suspends again for round ``round_number`` of the fix decision."""
    key = f"suspended-fix-approval-{round_number}-description"
    for _ in range(600):
        found = httpx.get(f"{runner.api_url}/flow_runs/{run_id}/input/{key}", trust_env=False)
        if found.status_code == 200 and runner.run(run_id)["state"]["name"] == "Suspended":
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not suspend for round {round_number}")


def recent_logs(runner: FixRunner, run_id: str, *expected: str, within_s: float = 60) -> str:
    """The run's latest 200 log messages (the API's page size), whatever their order, once
    every ``expected`` text is among them: a run's last log lines reach the API in a batch
    shortly after its final state."""
    deadline = time.monotonic() + within_s
    while True:
        response = httpx.post(
            f"{runner.api_url}/logs/filter",
            json={
                "logs": {"flow_run_id": {"any_": [run_id]}},
                "sort": "TIMESTAMP_DESC",
                "limit": 200,
            },
            trust_env=False,
        )
        response.raise_for_status()
        logs = "\n".join(entry["message"] for entry in response.json())
        if all(text in logs for text in expected) or time.monotonic() > deadline:
            return logs
        time.sleep(0.5)


def incident_report(runner: FixRunner, run_id: str) -> str:
    """The run's latest ``incident-report`` artifact."""
    found = httpx.post(
        f"{runner.api_url}/artifacts/filter",
        json={
            "artifacts": {"key": {"any_": ["incident-report"]}, "flow_run_id": {"any_": [run_id]}},
            "sort": "CREATED_DESC",
            "limit": 1,
        },
        trust_env=False,
    )
    found.raise_for_status()
    [artifact] = found.json()
    return str(artifact["data"])


def decided_at(runner: FixRunner, run_id: str) -> str:
    """When the server received the fix decision (UTC, to the second, as the record says)."""
    response = httpx.post(
        f"{runner.api_url}/flow_runs/{run_id}/input/filter",
        json={"prefix": "suspended-fix-approval-response", "limit": 1},
        trust_env=False,
    )
    response.raise_for_status()
    [found] = response.json()
    created = datetime.fromisoformat(found["created"]).astimezone(UTC)
    return created.isoformat(timespec="seconds").replace("+00:00", "Z")


def run_artifact(runner: FixRunner, run_id: str, key: str) -> list[str]:
    found = httpx.post(
        f"{runner.api_url}/artifacts/filter",
        json={"artifacts": {"key": {"any_": [key]}, "flow_run_id": {"any_": [run_id]}}},
        trust_env=False,
    )
    found.raise_for_status()
    return [str(a["data"]) for a in found.json()]


def shot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def pulls_for(runner: FixRunner, check_id: str) -> list[dict[str, Any]]:
    pulls = [json.loads(p.read_text()) for p in (runner.data_dir / "pulls").glob("*.json")]
    return [p for p in pulls if p["repository"] == f"acme/{check_id}"]


def branches(runner: FixRunner, check_id: str) -> str:
    bare = runner.data_dir / "git" / f"acme__{check_id}.git"
    return git(bare, "branch", "--list") if bare.exists() else ""


def test_approve_from_the_printed_link(
    fix_runner: FixRunner,
    service_repo: Path,
    browser: Browser,
    page: Page,
    tmp_path: Path,
    issue_pages: str,
) -> None:
    check_id = "fixflow-ui"
    run_id = waiting_run(fix_runner, check_id, service_repo)
    name = f"{check_id} · svc-{check_id} · 2026-01-01 00:00:00 UTC"

    # the run list shows a name a person recognises
    page.goto(f"{fix_runner.api_url.removesuffix('/api')}/v2/runs")
    expect(page.get_by_text(name).locator("visible=true").first).to_be_visible(timeout=60_000)
    shot(page, tmp_path, "runs-list")

    # `remediate approvals` lists the decision with its link, the issue carries the same
    listed = subprocess.run(
        [sys.executable, "-m", "remediate.cli", "approvals", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PREFECT_API_URL": fix_runner.api_url},
    )
    [row] = [r for r in json.loads(listed.stdout) if r["id"] == run_id]
    assert row["name"] == name and row["service"] == f"svc-{check_id}"
    assert row["risk"] == "low" and row["decision"] == "fix"
    assert row["link"] == printed_link(fix_runner, check_id)

    dialog = open_form(page, row["link"], run_id)
    expect(dialog).to_contain_text("Approve pushes branch")
    expect(dialog).to_contain_text("raise the timeout", timeout=30_000)
    expect(dialog).to_contain_text("+TIMEOUT_S = 5.0")
    shown = fix_runner.shown_sha256(run_id)
    expect(dialog).to_contain_text(shown)
    expect(dialog.locator("button[aria-label='Select Diff Sha256']")).to_contain_text(shown)
    shot(page, tmp_path, "form-opened")

    # the issue and the whole diff are one click away, as http links a browser follows
    issue_href = dialog.get_by_role("link", name="open the issue").get_attribute("href")
    assert issue_href is not None and issue_href.startswith(
        f"http://127.0.0.1:{fix_runner.issues_port}/issues/"
    )
    diff_href = dialog.get_by_role("link", name="artifact fix-diff").get_attribute("href")
    assert diff_href is not None and "/v2/artifacts/artifact/" in diff_href

    decide(page, dialog, "approve", "alice", "approved in the UI")
    shot(page, tmp_path, "form-approve-chosen")
    dialog.get_by_role("button", name="Resume").click()
    expect(dialog).to_be_hidden(timeout=120_000)

    fix_runner.wait_for(run_id, "Completed")
    bare = fix_runner.data_dir / "git" / f"acme__{check_id}.git"
    assert "TIMEOUT_S = 5.0" in git(bare, "show", f"remediate/{check_id}-1:app.py")
    [pull] = pulls_for(fix_runner, check_id)
    assert pull["branch"] == f"remediate/{check_id}-1"
    notes = [c["body"] for c in local_issue(fix_runner, check_id)["comments"]]
    assert any("Fix approved" in n and "approved in the UI" in n for n in notes)

    # who, through which channel and when: the same record everywhere
    who = f"by alice via `prefect-api` at {decided_at(fix_runner, run_id)}"
    assert sum(who in n for n in notes) == 2  # the decision and the pull request notes
    assert any(f"**Fix approved** {who}." in n for n in notes)
    assert f"**Fix approved** {who}." in pull["body"]
    report_fix = incident_report(fix_runner, run_id).split("## Fix")[1]
    assert f"**Decision:** approved {who}." in report_fix
    [artifact] = run_artifact(fix_runner, run_id, "fix-decision")
    assert f"**Fix approved** {who}." in artifact and "approved in the UI" in artifact

    # following the form's links: the diff artifact, then the issue behind the UI's credential
    diff_page = browser.new_page()
    diff_page.goto(diff_href)
    shown_diff = diff_page.get_by_test_id("markdown-display")
    expect(shown_diff).to_contain_text("+TIMEOUT_S = 5.0", timeout=60_000)
    shot(diff_page, tmp_path, "fix-diff-artifact")
    diff_page.close()
    assert httpx.get(issue_href, trust_env=False).status_code == 401
    reader = browser.new_context(http_credentials={"username": VIEWER[0], "password": VIEWER[1]})
    issue_page = reader.new_page()
    issue_page.goto(issue_href)
    expect(issue_page.get_by_role("heading", level=1)).to_contain_text(check_id)
    expect(issue_page.get_by_text("approved in the UI").first).to_be_visible()
    shot(issue_page, tmp_path, "issue-page")
    reader.close()


def test_resume_without_a_decision_decides_nothing(
    fix_runner: FixRunner, service_repo: Path, page: Page, tmp_path: Path
) -> None:
    check_id = "fixflow-ui-undecided"
    run_id = waiting_run(fix_runner, check_id, service_repo)
    dialog = open_form(page, printed_link(fix_runner, check_id), run_id)
    choose(page, dialog, "Approver", "alice")
    dialog.get_by_role("button", name="Resume").click()
    # the UI says why nothing happened; the server refused the input without a decision
    expect(page.get_by_text("'decision' is a required property")).to_be_visible(timeout=30_000)
    expect(dialog).to_be_visible()
    shot(page, tmp_path, "form-no-decision")
    assert fix_runner.run(run_id)["state"]["name"] == "Suspended"

    decide(page, dialog, "reject", "alice", "wrong layer")
    dialog.get_by_role("button", name="Resume").click()
    expect(dialog).to_be_hidden(timeout=120_000)
    fix_runner.wait_for(run_id, "Completed")
    assert pulls_for(fix_runner, check_id) == []
    assert "remediate/" not in branches(fix_runner, check_id)
    notes = [c["body"] for c in local_issue(fix_runner, check_id)["comments"]]
    assert any("Fix rejected" in n and "wrong layer" in n for n in notes)
    who = f"by alice via `prefect-api` at {decided_at(fix_runner, run_id)}"
    assert any(f"**Fix rejected** {who}." in n for n in notes)
    assert f"**Decision:** rejected {who}." in incident_report(fix_runner, run_id)
    assert [who in a for a in run_artifact(fix_runner, run_id, "fix-decision")] == [True]


def test_an_approver_no_longer_listed_sees_why_and_the_run_keeps_waiting(
    fix_runner: FixRunner, service_repo: Path, page: Page, tmp_path: Path
) -> None:
    check_id = "fixflow-ui-unlisted"
    run_id = waiting_run(
        fix_runner, check_id, service_repo, approval={"approvers": ["alice", "bob"]}
    )
    # bob leaves the approvers while the run waits; the form still offers his name
    fix_runner.write_catalog(local_catalog(check_id, service_repo))
    link = printed_link(fix_runner, check_id)
    dialog = open_form(page, link, run_id)
    decide(page, dialog, "approve", "bob", "looks fine")
    dialog.get_by_role("button", name="Resume").click()
    expect(dialog).to_be_hidden(timeout=120_000)

    wait_for_round(fix_runner, run_id, 2)
    dialog = open_form(page, link, run_id)
    expect(dialog).to_contain_text("Decision refused: 'bob' is not on approval.approvers")
    shot(page, tmp_path, "form-refused-approver")
    assert "decision refused: 'bob' is not on approval.approvers" in fix_runner.logs(run_id)
    assert pulls_for(fix_runner, check_id) == []
    assert "remediate/" not in branches(fix_runner, check_id)


def test_a_failed_push_fails_the_run_visibly_and_a_retry_publishes_once(
    fix_runner: FixRunner,
    service_repo: Path,
    page: Page,
    tmp_path: Path,
    webhook_sink: WebhookSink,
) -> None:
    check_id = "fixflow-ui-push"
    channels = [
        {"kind": "webhook", "url": webhook_sink.url("/hook")},
        {"kind": "slack", "url": webhook_sink.url("/slack")},
        {"kind": "webhook", "url": f"http://127.0.0.1:{free_port()}/nobody-listens"},
    ]
    approval = {"approvers": ["alice"], "notify": channels}
    run_id = waiting_run(fix_runner, check_id, service_repo, approval=approval)
    # the receiving repository holds a stale lock on the branch: the push fails
    bare = fix_runner.data_dir / "git" / f"acme__{check_id}.git"
    git(fix_runner.data_dir, "init", "-q", "--bare", str(bare))
    lock = bare / "refs" / "heads" / "remediate" / f"{check_id}-1.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    sessions = len(fix_runner.model.model_requests())

    link = printed_link(fix_runner, check_id)
    dialog = open_form(page, link, run_id)
    decide(page, dialog, "approve", "alice", "ship it")
    dialog.get_by_role("button", name="Resume").click()
    expect(dialog).to_be_hidden(timeout=120_000)

    failed = fix_runner.wait_for(run_id, "Failed")
    assert "approved fix not published" in failed["state"]["message"]
    assert "publish:failed" in failed["tags"] and "approval:approved" in failed["tags"]
    page.goto(link)
    badge = page.get_by_text("Failed", exact=True).locator("visible=true").first
    expect(badge).to_be_visible(timeout=60_000)
    shot(page, tmp_path, "run-failed-publish")
    notes = [c["body"] for c in local_issue(fix_runner, check_id)["comments"]]
    assert any(
        "Approved fix not published" in n and f"remediate retry-publish {run_id}" in n
        for n in notes
    )
    assert pulls_for(fix_runner, check_id) == []
    failed_report = incident_report(fix_runner, run_id).split("## Fix")[1]
    assert "**Not published:**" in failed_report
    assert failed_report.rstrip().endswith(f"`remediate retry-publish {run_id}`.")

    # the channels hear of it once, with the cause, the retry command and the run link;
    # the channel nobody listens on fails without failing anything else
    [hook] = [b for b in webhook_sink.bodies("/hook") if b["event"] == "remediate.publish-failed"]
    assert "lock" in hook["cause"] and hook["retry_command"] == f"remediate retry-publish {run_id}"
    assert hook["run_url"] == link and hook["decision"]["approver"] == "alice"
    assert hook["decision"]["decided_at"] == decided_at(fix_runner, run_id)
    [slack] = [b["text"] for b in webhook_sink.bodies("/slack") if "NOT published" in b["text"]]
    assert f"<{link}|the run>" in slack and f"`remediate retry-publish {run_id}`" in slack
    dead = "publish failure to webhook (url in catalog) failed: ConnectError"
    assert dead in recent_logs(fix_runner, run_id, dead)

    lock.unlink()
    assert remediate_main(["retry-publish", run_id, "--api-url", fix_runner.api_url]) == 0
    done = fix_runner.wait_for(run_id, "Completed")
    assert "publish:published" in done["tags"] and "publish:failed" not in done["tags"]
    assert "TIMEOUT_S = 5.0" in git(bare, "show", f"remediate/{check_id}-1:app.py")
    assert [p["branch"] for p in pulls_for(fix_runner, check_id)] == [f"remediate/{check_id}-1"]
    assert len(fix_runner.model.model_requests()) == sessions  # no new model session
    expected = ("no new approval", "resumed (attempt", "(cached from this run's first attempt)")
    logs = recent_logs(fix_runner, run_id, *expected)
    assert all(text in logs for text in expected)
    assert logs.count("opened: ") <= 1  # only the first attempt says the issue was opened
    report = incident_report(fix_runner, run_id)
    assert report.index("## Fix") > report.index("Prefect flow run")
    assert "approved by alice" in report and "Channel: `prefect-api`" in report
    fix_part = report.split("## Fix")[1]
    assert "**Pull request:** file://" in fix_part and fix_part.rstrip().endswith(".md")
    notes = [c["body"] for c in local_issue(fix_runner, check_id)["comments"]]
    assert sum("Fix approved" in n for n in notes) == 1
    assert sum("Pull request opened" in n for n in notes) == 1
    # a second retry finds nothing to retry and publishes nothing more
    assert remediate_main(["retry-publish", run_id, "--api-url", fix_runner.api_url]) == 1
    assert len(pulls_for(fix_runner, check_id)) == 1
    # the retry published: no second failure notice, and the approval kept its time
    failures = [b for b in webhook_sink.bodies("/hook") if b["event"] == "remediate.publish-failed"]
    assert len(failures) == 1
    assert f"at {decided_at(fix_runner, run_id)}" in fix_part
    assert len(run_artifact(fix_runner, run_id, "fix-decision")) == 1  # the retry added none
