"""Approving a proposed fix in the Prefect UI itself, with headless Chromium."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

from tests.support.fix_runner import DEPLOYMENT, FixRunner
from tests.support.repos import git
from tests.test_fix_approval import READ_EDIT, alert, local_catalog, local_issue

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


def test_approval_in_the_prefect_ui(
    fix_runner: FixRunner, service_repo: Path, tmp_path: Path
) -> None:
    check_id = "fixflow-ui"
    fix_runner.write_catalog(local_catalog(check_id, service_repo))
    fix_runner.model.play(*READ_EDIT)
    run_id = submit(fix_runner, check_id)
    fix_runner.wait_for(run_id, "Suspended")
    ui = fix_runner.api_url.removesuffix("/api")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{ui}/v2/runs/flow-run/{run_id}")
            page.get_by_role("button", name="Open menu").first.click(timeout=60_000)
            page.get_by_role("menuitem", name="Resume").click()
            dialog = page.get_by_role("dialog")
            expect(dialog).to_contain_text("raise the timeout", timeout=30_000)
            expect(dialog).to_contain_text("+TIMEOUT_S = 5.0")
            shown = fix_runner.shown_sha256(run_id)
            expect(dialog).to_contain_text(shown)
            dialog.get_by_role("switch").click()
            dialog.locator("button[aria-label='Select Approver']").click()
            page.get_by_role("option", name="alice").click()
            prefilled = dialog.locator("button[aria-label='Select Diff Sha256']")
            expect(prefilled).to_contain_text(shown)
            dialog.locator("textarea").fill("approved in the UI")
            dialog.get_by_role("button", name="Resume").click()
            expect(dialog).to_be_hidden(timeout=120_000)
        except Exception:
            page.screenshot(path=str(tmp_path / "ui-failure.png"))
            (tmp_path / "ui-failure.html").write_text(page.content())
            raise
        finally:
            browser.close()

    fix_runner.wait_for(run_id, "Completed")
    bare = fix_runner.data_dir / "git" / f"acme__{check_id}.git"
    assert "TIMEOUT_S = 5.0" in git(bare, "show", f"remediate/{check_id}-1:app.py")
    pulls = [json.loads(p.read_text()) for p in (fix_runner.data_dir / "pulls").glob("*.json")]
    assert [p["branch"] for p in pulls if p["repository"] == f"acme/{check_id}"] == [
        f"remediate/{check_id}-1"
    ]
    notes = [c["body"] for c in local_issue(fix_runner, check_id)["comments"]]
    assert any("Fix approved" in n and "approved in the UI" in n for n in notes)
