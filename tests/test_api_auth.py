"""Only a client holding the Prefect API credential can approve: `remediate up` turns on
Prefect's basic auth, every shipped client sends it, and the UI asks for it."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import expect, sync_playwright

from remediate.devstack.stack import read_secrets
from remediate.runs.auth import auth_headers
from remediate.runs.tags import Key, tag
from remediate.trackers import LocalTracker
from tests.support.gateway import config as gateway_config
from tests.support.gateway import running_gateway, runs_with_tag, sentinel_check
from tests.support.processes import free_port
from tests.test_fix_ui import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
APPROVER = getpass.getuser()


@dataclass
class Stack:
    env: dict[str, str]
    data: Path
    printed: str
    state: dict[str, Any]
    credential: str

    @property
    def api(self) -> str:
        return str(self.state["prefect_api_url"])

    @property
    def headers(self) -> dict[str, str]:
        return auth_headers(self.credential)


def remediate(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remediate.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=ROOT,
    )


def catalog_with_action(demo_port: int) -> dict[str, Any]:
    """The default catalog plus a runbook action the sample alert suggests, so its run
    waits for an approval."""
    catalog: dict[str, Any] = yaml.safe_load((ROOT / "remediate.yaml").read_text())
    demo = catalog["services"][0]
    demo["health"][0]["url"] = f"http://127.0.0.1:{demo_port}/health"
    demo["actions"] = [
        {
            "name": "poke",
            "description": "Ask the demo service to recover",
            "risk": "medium",
            "http": {"method": "GET", "url": f"http://127.0.0.1:{demo_port}/"},
            "suggested_by": ["S1-probes"],
        }
    ]
    catalog["approval"] = {"approvers": sorted({"alice", APPROVER})}
    return catalog


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("auth-stack")
    data = home / "stack"
    demo_port = free_port()
    catalog = home / "remediate.yaml"
    catalog.write_text(yaml.safe_dump(catalog_with_action(demo_port)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REMEDIATE_"))}
    env |= {
        "REMEDIATE_DATA_DIR": str(data),
        "REMEDIATE_PREFECT_PORT": str(free_port()),
        "REMEDIATE_DEMO_PORT": str(demo_port),
        "REMEDIATE_CATALOG": str(catalog),
        "REMEDIATE_GATEWAY_PORT": str(free_port()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    up = remediate(env, "up")
    try:
        assert up.returncode == 0, up.stderr
        state = json.loads((data / "stack.json").read_text())
        credential = read_secrets(data / "secrets.env")["PREFECT_API_AUTH_STRING"]
        yield Stack(env, data, up.stdout + up.stderr, state, credential)
    finally:
        remediate(env, "down")


def run_state(stack: Stack, run_id: str) -> str:
    run = httpx.get(f"{stack.api}/flow_runs/{run_id}", headers=stack.headers, trust_env=False)
    run.raise_for_status()
    return str(run.json()["state_name"])


def wait_for_state(stack: Stack, run_id: str, *names: str, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while (current := run_state(stack, run_id)) not in names:
        assert current not in ("Failed", "Crashed"), f"run {run_id} ended {current}"
        assert time.monotonic() < deadline, f"run {run_id} still {current}"
        time.sleep(0.25)
    return current


def test_up_generates_a_private_credential_and_never_prints_it(stack: Stack) -> None:
    user, _, password = stack.credential.partition(":")
    assert user and len(password) >= 32
    secrets_file = stack.data / "secrets.env"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert str(secrets_file) in stack.printed
    assert str(secrets_file) in stack.state["api_credentials"]
    assert password not in stack.printed
    assert password not in (stack.data / "stack.json").read_text()


def test_the_api_refuses_calls_without_the_credential(stack: Stack) -> None:
    query = {"limit": 1}
    bare = httpx.post(f"{stack.api}/flow_runs/filter", json=query, trust_env=False)
    assert bare.status_code == 401
    wrong = httpx.post(
        f"{stack.api}/flow_runs/filter",
        json=query,
        headers=auth_headers("remediate:not-the-password"),
        trust_env=False,
    )
    assert wrong.status_code == 401
    right = httpx.post(
        f"{stack.api}/flow_runs/filter", json=query, headers=stack.headers, trust_env=False
    )
    assert right.status_code == 200


def test_only_an_authenticated_client_can_approve(stack: Stack) -> None:
    assert remediate(stack.env, "demo", "break").returncode == 0
    sample = (ROOT / "examples/sentinel-check-result.json").read_text()
    sent = remediate(stack.env, "send", "-", "--json", stdin=sample)
    assert sent.returncode == 0, sent.stderr
    run_id = json.loads(sent.stdout)["flow_run_id"]
    wait_for_state(stack, run_id, "Suspended")

    decision = {"run_input": {"decision": "approve", "approver": APPROVER, "comment": "forged"}}
    forged = httpx.post(f"{stack.api}/flow_runs/{run_id}/resume", json=decision, trust_env=False)
    assert forged.status_code == 401
    assert run_state(stack, run_id) == "Suspended"

    wrong_env = stack.env | {"PREFECT_API_AUTH_STRING": "remediate:not-the-password"}
    refused = remediate(wrong_env, "approve", run_id, "--reject")
    assert refused.returncode == 1
    assert "401" in refused.stderr and "PREFECT_API_AUTH_STRING" in refused.stderr
    assert run_state(stack, run_id) == "Suspended"

    approved = remediate(stack.env, "approve", run_id, "--reject", "--comment", "not now")
    assert approved.returncode == 0, approved.stderr
    assert f"by {APPROVER}" in approved.stdout
    wait_for_state(stack, run_id, "Completed")

    listed = remediate(stack.env, "runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert run_id in [row["id"] for row in json.loads(listed.stdout)]

    tracker = LocalTracker(stack.data / "issues")
    notes = [c.body for issue in tracker.issues() for c in issue.comments]
    recorded = [n for n in notes if f"rejected** by {APPROVER} via `prefect-api` at " in n]
    assert recorded and "Channel: `prefect-api`" in recorded[0]
    assert "not a per-person identity" in recorded[0]


def test_commands_with_a_wrong_credential_say_so(stack: Stack) -> None:
    wrong_env = stack.env | {"PREFECT_API_AUTH_STRING": "remediate:not-the-password"}
    runs = remediate(wrong_env, "runs")
    assert runs.returncode == 1
    assert "401" in runs.stderr and "PREFECT_API_AUTH_STRING" in runs.stderr
    report = remediate(wrong_env, "report")
    assert report.returncode == 1
    assert "401" in report.stderr
    malformed = remediate(stack.env | {"PREFECT_API_AUTH_STRING": "no-colon"}, "runs")
    assert malformed.returncode == 2
    assert "user:password" in malformed.stderr and "no-colon" not in malformed.stderr
    assert remediate(stack.env, "report").returncode == 0


def test_the_prefect_ui_asks_for_the_login(stack: Stack, tmp_path: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{stack.state['ui_url']}/v2/deployments")
            password = page.locator("input[type=password]")
            expect(password).to_be_visible(timeout=60_000)
            expect(page.get_by_text("remediate-alert")).to_have_count(0)

            password.fill("remediate:not-the-password")
            page.get_by_role("button", name="Login").click()
            expect(page.get_by_text("Invalid credentials")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("remediate-alert")).to_have_count(0)

            page.locator("input[type=password]").fill(stack.credential)
            page.get_by_role("button", name="Login").click()
            expect(page).not_to_have_url(re.compile("/login"), timeout=60_000)
            expect(page.get_by_text("remediate-alert").first).to_be_visible(timeout=60_000)
        except Exception:
            page.screenshot(path=str(tmp_path / "ui-failure.png"))
            (tmp_path / "ui-failure.html").write_text(page.content())
            raise
        finally:
            browser.close()


async def test_gateway_keeps_alerts_while_the_api_refuses_its_credential(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = gateway_config(tmp_path, stack.api, deployment="remediate-alert/remediate-alert")
    check_id = f"auth-gateway-{time.time_ns()}"
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "remediate:not-the-password")
    async with running_gateway(settings) as gw:
        answer = await gw.post_signed("/v1/alerts/sentinel", sentinel_check(check_id))
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 60
        while "delivery_failures_total{" not in (await gw.client.get("/metrics")).text:
            assert time.monotonic() < deadline, "no delivery attempt"
            await asyncio.sleep(0.1)
        assert await gw.outbox() == (await gw.outbox()) | {"pending": 1, "failed": 0}

    monkeypatch.setenv("PREFECT_API_AUTH_STRING", stack.credential)
    async with running_gateway(settings) as gw:
        counts = await gw.drained()
        assert counts["failed"] == 0
    runs = await runs_with_tag(stack.api, tag(Key.CHECK, check_id))
    assert len(runs) == 1


def test_no_log_of_the_stack_holds_the_password(stack: Stack) -> None:
    """Last in this module: the logs then cover start-up, runs, approvals and refusals."""
    password = stack.credential.partition(":")[2]
    logs = list((stack.data / "logs").iterdir())
    assert {log.stem for log in logs} >= {"prefect-server", "warm-parent", "worker", "gateway"}
    for log in logs:
        assert password not in log.read_text(errors="replace"), log.name
