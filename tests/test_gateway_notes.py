"""Resolutions and flapping reach the fingerprint's issue as one comment each."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from remediate.catalog import Catalog
from remediate.gateway.app import Gateway
from remediate.trackers import IssueDraft, LocalTracker
from remediate.trackers.local import LocalIssue
from tests.support.gateway import config, payload, running_gateway, runs_with_tag
from tests.support.stack import Runner

ALERTMANAGER = "/v1/alerts/alertmanager"
GENERIC = "/v1/alerts/generic"


def alertmanager_pair(fingerprint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    firing = payload("alertmanager_firing.json")
    firing["alerts"] = firing["alerts"][:1]
    firing["alerts"][0]["fingerprint"] = fingerprint
    resolved = json.loads(json.dumps(firing))
    resolved["status"] = "resolved"
    resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = "2026-11-27T14:30:00Z"
    return firing, resolved


def resolutions(issue: LocalIssue) -> list[str]:
    return [c.body for c in issue.comments if c.body.startswith("Resolved at")]


async def eventually(fetch: Any, done: Any, timeout: float = 120) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached; last value: {value!r}"[:2000])
        await asyncio.sleep(0.2)


def note_counts(gateway: Gateway) -> Any:
    return lambda: gateway.outbox.note_counts()


def open_issue_as_the_run_does(tracker: LocalTracker, fingerprint: str) -> int:
    draft = IssueDraft(
        fingerprint=fingerprint,
        occurrence_key=f"{fingerprint}:first",
        title="InstanceDown on api-1",
        body="The incident report.",
        comment="Fired again.",
    )
    return tracker.open_or_update(draft, datetime.now(UTC)).number


async def cancel(prefect_server: str, run_id: str) -> None:
    async with httpx.AsyncClient(base_url=prefect_server, timeout=30) as client:
        response = await client.post(
            f"/flow_runs/{run_id}/set_state",
            json={"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True},
        )
        assert response.status_code in (200, 201), response.text


async def test_resolution_waits_for_the_issue_then_comments_once_across_retries_and_restarts(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    fingerprint = uuid.uuid4().hex[:16]
    firing, resolved = alertmanager_pair(fingerprint)
    cfg = config(tmp_path, prefect_server)
    tracker = LocalTracker(tmp_path / "issues")
    async with running_gateway(cfg) as gw:
        assert (await gw.post_token(ALERTMANAGER, firing)).status_code == 202
        await gw.drained()
        assert (await gw.post_token(ALERTMANAGER, resolved)).status_code == 202
        await gw.drained()
        # the run (never picked up here) has not opened its issue: the note waits for it
        await eventually(
            lambda: gw.client.get("/metrics"),
            lambda m: 'remediate_gateway_notes_total{result="retried"} 0.0' not in m.text,
        )
        assert await gw.gateway.outbox.note_counts() == {"pending": 1}
        number = open_issue_as_the_run_does(tracker, fingerprint)
        await eventually(note_counts(gw.gateway), lambda c: c == {"posted": 1})
        again = await gw.post_token(ALERTMANAGER, resolved)
        assert again.json()["duplicates"] == 1
    (comment,) = resolutions(tracker.get(number))
    assert "Resolved at 2026-11-27T14:30:00+00:00 by alertmanager" in comment

    db = sqlite3.connect(cfg.sqlite_path)
    with db:
        # as if the gateway had stopped after writing the comment but before recording it
        db.execute("UPDATE notes SET state = 'pending', next_at = 0")
    db.close()
    async with running_gateway(cfg) as gw:
        again = await gw.post_token(ALERTMANAGER, resolved)
        assert again.status_code == 202 and again.json()["duplicates"] == 1
        await eventually(note_counts(gw.gateway), lambda c: c == {"posted": 1})
    assert len(resolutions(tracker.get(number))) == 1
    (run,) = await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")
    assert "alert-resolved" in run["tags"]


async def test_resolution_text_is_escaped_and_redacted(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    fingerprint = f"esc-{uuid.uuid4().hex[:12]}"
    base = {"check_id": "disk-full", "severity": "critical", "fingerprint": fingerprint}
    tracker = LocalTracker(tmp_path / "issues")
    number = open_issue_as_the_run_does(tracker, fingerprint)
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        first = await gw.post_token(GENERIC, {**base, "id": "one"})
        assert first.status_code == 202
        await gw.drained()
        resolved = {
            **base,
            "id": "two @ops-team password=hunter2 <img src=x>",
            "status": "resolved",
            "summary": "nagios `x` [y](http://evil.example)",
        }
        assert (await gw.post_token(GENERIC, resolved)).status_code == 202
        await eventually(note_counts(gw.gateway), lambda c: c == {"posted": 1})
    (comment,) = resolutions(tracker.get(number))
    assert "hunter2" not in comment
    assert "@ops-team" not in comment and "@\u200bops-team" in comment
    assert "<img" not in comment and "`x`" not in comment and "[y](" not in comment


async def test_resolution_after_a_run_that_opened_no_issue_writes_nothing(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    fingerprint = uuid.uuid4().hex[:16]
    firing, resolved = alertmanager_pair(fingerprint)
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        assert (await gw.post_token(ALERTMANAGER, firing)).status_code == 202
        await gw.drained()
        (run,) = await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")
        await cancel(prefect_server, run["id"])
        assert (await gw.post_token(ALERTMANAGER, resolved)).status_code == 202
        await eventually(note_counts(gw.gateway), lambda c: c == {"no_issue": 1})
    assert LocalTracker(tmp_path / "issues").issues() == []


async def wait_finished(api: str, run_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:

        async def fetch() -> dict[str, Any]:
            run: dict[str, Any] = (await client.get(f"{api}/flow_runs/{run_id}")).json()
            return run

        return await eventually(
            fetch,
            lambda r: r["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"),
            timeout=240,
        )


async def test_firing_run_issue_then_resolved_comment_then_flapping_run_says_so(
    tmp_path: Path, remediate_runner: Runner
) -> None:
    """Through a real runner: the run opens the issue, the resolution is one comment on it,
    and the run started as flapping writes the transition count and window on the issue."""
    runner = remediate_runner
    runner.write_catalog({"services": []})
    fingerprint = uuid.uuid4().hex[:16]
    firing, resolved = alertmanager_pair(fingerprint)
    cfg = config(
        runner.data_dir,
        runner.api_url,
        deployment="remediate-alert/remediate-alert",
        outbox_url=f"sqlite:///{tmp_path / 'outbox.sqlite3'}",
    )
    catalog = Catalog.model_validate({"gateway": {"flapping": {"transitions": 2, "window_s": 900}}})
    tracker = LocalTracker(runner.data_dir / "issues")

    def issue() -> LocalIssue | None:
        return next((i for i in tracker.issues() if i.fingerprint == fingerprint), None)

    async with running_gateway(cfg, catalog) as gw:
        assert (await gw.post_token(ALERTMANAGER, firing)).status_code == 202
        await gw.drained()
        (run,) = await runs_with_tag(runner.api_url, f"fingerprint:{fingerprint}")
        finished = await wait_finished(runner.api_url, run["id"])
        assert finished["state_type"] == "COMPLETED", runner.log.read_text()[-3000:]
        opened = issue()
        assert opened is not None and run["id"] in opened.body
        assert "flapping" not in opened.body

        for _ in range(2):
            assert (await gw.post_token(ALERTMANAGER, resolved)).status_code == 202
        await eventually(note_counts(gw.gateway), lambda c: c == {"posted": 1})
        current = issue()
        assert current is not None and len(resolutions(current)) == 1

        refired = json.loads(json.dumps(firing))
        refired["alerts"][0]["startsAt"] = "2026-11-27T14:40:00Z"
        assert (await gw.post_token(ALERTMANAGER, refired)).status_code == 202
        await gw.drained()
        runs = await runs_with_tag(runner.api_url, f"fingerprint:{fingerprint}")
        (second,) = [r for r in runs if r["id"] != run["id"]]
        assert "flapping" in second["tags"]
        assert (await wait_finished(runner.api_url, second["id"]))["state_type"] == "COMPLETED"
    current = issue()
    assert current is not None and current.number == opened.number
    assert len(resolutions(current)) == 1
    assert any(
        "yes: 2 firing/resolved transitions within 900 s" in c.body for c in current.comments
    )
