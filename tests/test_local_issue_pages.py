"""The local tracker's issues as read-only http pages on the gateway: the link the approval
form and the issue notes carry opens in a browser, behind the stack UI's credential."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from remediate.approval.form import approval_description
from remediate.fixer.models import FixProposal, FixStatus
from remediate.trackers import IssueDraft
from remediate.trackers.local import LocalTracker
from tests.support.gateway import config, running_gateway, start_gateway_process
from tests.support.processes import free_port, http_ok, stop, wait_until

CREDENTIAL = "viewer:pages-pass"
HOSTILE = (
    '<script>window.pwned = 1</script> <img src=x onerror="window.pwned = 2">'
    " [click](javascript:window.pwned=3) `code` **bold**"
)


@pytest.fixture
def unreachable_prefect() -> str:
    return f"http://127.0.0.1:{free_port()}/api"


def basic(credential: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credential.encode()).decode()}


def write_issue(data_dir: Path, web_base: str | None) -> str:
    tracker = LocalTracker(data_dir / "issues", web_base=web_base)
    draft = IssueDraft(
        fingerprint="f" * 16,
        occurrence_key="page-1",
        title="S1-probes <b>down</b> on web",
        body=HOSTILE,
        comment="again",
        labels=["remediate", "check:S1-probes"],
    )
    ref = tracker.open_or_update(draft, datetime(2026, 1, 1, tzinfo=UTC))
    tracker.add_comment(ref.number, "note-1", "Fix approved by alice & <bob>")
    return ref.url


def test_a_local_issue_link_is_http_when_the_gateway_serves_issues(tmp_path: Path) -> None:
    assert write_issue(tmp_path / "a", "http://127.0.0.1:8780/issues/") == (
        "http://127.0.0.1:8780/issues/1"
    )
    assert write_issue(tmp_path / "b", None).startswith("file://")
    described = approval_description(
        FixProposal(status=FixStatus.PROPOSED, diff="+x\n", branch="remediate/a"),
        "http://127.0.0.1:8780/issues/1",
        artifact_key="fix-diff",
        artifact_url="http://127.0.0.1:4200/v2/artifacts/artifact/abc",
    )
    assert "**Issue:** [open the issue](http://127.0.0.1:8780/issues/1)" in described
    assert "[artifact `fix-diff`](http://127.0.0.1:4200/v2/artifacts/artifact/abc)" in described
    unlinked = approval_description(
        FixProposal(status=FixStatus.PROPOSED), "file:///tmp/x (y).md", artifact_key="fix-diff"
    )
    assert "](file" not in unlinked and "Full diff: artifact `fix-diff`" in unlinked


async def test_pages_need_the_ui_credential_and_escape_everything(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    write_issue(tmp_path, None)
    cfg = config(tmp_path, unreachable_prefect, issues_credential=CREDENTIAL)
    async with running_gateway(cfg) as gw:
        client = gw.client
        missing = await client.get("/issues/1")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith('Basic realm="remediate issues"')
        assert (await client.get("/issues/1", headers=basic("viewer:wrong"))).status_code == 401
        bearer = {"Authorization": f"Bearer {CREDENTIAL}"}
        assert (await client.get("/issues/1", headers=bearer)).status_code == 401
        garbled = {"Authorization": "Basic %%%"}
        assert (await client.get("/issues/1", headers=garbled)).status_code == 401

        page = await client.get("/issues/1", headers=basic(CREDENTIAL))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src" not in page.headers["content-security-policy"]
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        html = page.text
        assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
        assert "&lt;script&gt;" in html and "<strong>bold</strong>" in html
        assert "S1-probes &lt;b&gt;down&lt;/b&gt; on web" in html
        assert "Fix approved by alice &amp; &lt;bob&gt;" in html

        absent = await client.get("/issues/7", headers=basic(CREDENTIAL))
        assert absent.status_code == 404 and absent.json()["detail"] == "no issue #7"
        for bad in ("0", "x", "1.md", "..%2F1"):
            answer = await client.get(f"/issues/{bad}", headers=basic(CREDENTIAL))
            assert answer.status_code in (404, 422), bad

    async with running_gateway(config(tmp_path, unreachable_prefect)) as gw:
        off = await gw.client.get("/issues/1", headers=basic(CREDENTIAL))
        assert off.status_code == 404 and "PREFECT_API_AUTH_STRING" in off.json()["detail"]


def test_a_browser_opens_the_page_and_runs_nothing_from_it(
    tmp_path: Path, unreachable_prefect: str
) -> None:
    port = free_port()
    url = write_issue(tmp_path, f"http://127.0.0.1:{port}/issues")
    process = start_gateway_process(
        tmp_path, unreachable_prefect, port, PREFECT_API_AUTH_STRING=CREDENTIAL
    )
    try:
        wait_until(http_ok(f"http://127.0.0.1:{port}/healthz"), 60, "gateway")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            user, password = CREDENTIAL.split(":")
            context = chromium.new_context(
                http_credentials={"username": user, "password": password}
            )
            page = context.new_page()
            page.goto(url)
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "#1 S1-probes <b>down</b> on web"
            )
            expect(page.get_by_text("<script>window.pwned = 1</script>")).to_be_visible()
            assert page.evaluate("window.pwned") is None
            page.screenshot(path=str(tmp_path / "issue-page.png"), full_page=True)
            chromium.close()
    finally:
        stop(process)
