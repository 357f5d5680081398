"""Trust controls end to end: maintenance windows and silences, the automation pause, the
action breaker (real Prefect server, real gateway, the flow served by a runner, real sshd)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flows.remediate_alert import remediate_alert
from remediate.alerts import Alert
from remediate.catalog import Catalog, CatalogError, load_catalog
from remediate.controls.audit import AuditEntry, Kind, from_csv
from remediate.controls.config import MaintenanceWindow
from remediate.controls.pause import PAUSE_VARIABLE
from remediate.investigation.models import InvestigationStatus
from remediate.reporting.history import RunRecord
from remediate.reporting.metrics import compute
from remediate.trackers import LocalTracker
from tests.github_standin import GitHubStandIn
from tests.support.fix_runner import DEPLOYMENT, FixRunner
from tests.support.gateway import (
    ROOT,
    config,
    running_gateway,
    runs_with_tag,
    sentinel_check,
    signed_headers,
    start_gateway_process,
    wait_drained,
    wait_healthy,
)
from tests.support.git_remote import GitRemote
from tests.support.model_server import ModelServer, Turn, text, tool
from tests.support.processes import free_port, stop
from tests.support.sim_service import SimService
from tests.support.webhook_sink import WebhookSink
from tests.test_fix_approval import READ_EDIT, github_service, submit
from tests.test_rollback import alert as rollback_alert
from tests.test_rollback import deploy_bad_release
from tests.test_rollback import flow_catalog as rollback_catalog
from tests.test_runbook_actions import alert, flow_catalog, notes, restart, restore

__all__ = ["github_service"]  # a fixture these tests use


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- maintenance windows in the catalog -----------------------------------------------------


def test_a_window_covers_from_each_cron_time_for_its_duration() -> None:
    window = MaintenanceWindow(name="sunday", cron="0 2 * * 0", duration_s=3600, reason="deploys")
    assert window.opened_at(at("2026-11-29T02:00:00")) == at("2026-11-29T02:00:00")
    assert window.opened_at(at("2026-11-29T02:59:59")) == at("2026-11-29T02:00:00")
    assert window.opened_at(at("2026-11-29T03:00:00")) is None
    assert window.opened_at(at("2026-11-29T01:59:59")) is None
    assert window.opened_at(at("2026-11-30T02:30:00")) is None  # a Monday
    paris = window.model_copy(update={"timezone": "Europe/Paris"})
    assert paris.opened_at(at("2026-11-29T01:30:00")) == at("2026-11-29T01:00:00")


def test_catalog_refuses_a_bad_window_naming_the_key(tmp_path: Path) -> None:
    file = tmp_path / "catalog.yaml"
    window = {"name": "w", "cron": "0 2 * *", "duration_s": 60, "reason": "r"}
    file.write_text(yaml.safe_dump({"controls": {"maintenance": [window]}}))
    with pytest.raises(CatalogError, match=r"controls\.maintenance\.0\.cron.*cron"):
        load_catalog(file)
    window |= {"cron": "0 2 * * *", "services": ["nope"]}
    file.write_text(yaml.safe_dump({"controls": {"maintenance": [window]}}))
    with pytest.raises(CatalogError, match=r"unknown service.*nope"):
        load_catalog(file)


# --- silences: the CLI and the store beside the outbox ---------------------------------------


def cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "REMEDIATE_DATA_DIR": str(data_dir)}
    environment.pop("REMEDIATE_OUTBOX_URL", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "remediate.cli", *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def listed(data_dir: Path, *flags: str) -> list[dict[str, Any]]:
    done = cli(data_dir, "silence", "list", "--json", *flags)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def test_silence_cli_adds_lists_and_expires(tmp_path: Path) -> None:
    added = cli(
        tmp_path,
        *("silence", "add", "--service", "api", "--check", "disk-*", "--duration", "2h"),
        *("--reason", "disk migration", "--by", "alice", "--json"),
    )
    assert added.returncode == 0, added.stderr
    silence = json.loads(added.stdout)
    assert silence["state"] == "active" and silence["created_by"] == "alice"
    assert silence["ends_at"] - silence["starts_at"] == 7200
    assert (tmp_path / "gateway-outbox.sqlite3").exists()

    rows = listed(tmp_path)
    assert [(r["id"], r["service"], r["check"], r["reason"]) for r in rows] == [
        (silence["id"], "api", "disk-*", "disk migration")
    ]
    table = cli(tmp_path, "silence", "list")
    assert silence["id"] in table.stdout and "disk migration" in table.stdout

    expired = cli(tmp_path, "silence", "expire", silence["id"])
    assert expired.returncode == 0, expired.stderr
    assert "expired" in expired.stdout
    assert listed(tmp_path) == []
    history = listed(tmp_path, "--all")
    assert [(r["id"], r["state"]) for r in history] == [(silence["id"], "expired")]

    missing = cli(tmp_path, "silence", "expire", "0123456789ab")
    assert missing.returncode == 2 and "silence_id: no silence" in missing.stderr
    for duration in ("soon", "0m", "31d"):
        bad = cli(tmp_path, "silence", "add", "--duration", duration, "--reason", "x")
        assert bad.returncode == 2 and "--duration" in bad.stderr, bad.stderr
    bad_service = cli(
        tmp_path, "silence", "add", "--service", "Bad Name!", "--duration", "1h", "--reason", "x"
    )
    assert bad_service.returncode == 2 and "service" in bad_service.stderr


async def post_alert(url: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
        response = await client.post(
            "/v1/alerts/sentinel", content=raw, headers=signed_headers(raw)
        )
    assert response.status_code == 202, response.text


async def only_run(api_url: str, check_id: str) -> dict[str, Any]:
    runs = await runs_with_tag(api_url, f"check:{check_id}")
    assert len(runs) == 1, runs
    return runs[0]


async def silenced_count(url: str, kind: str) -> float:
    async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
        text = (await client.get("/metrics")).text
    line = f'remediate_gateway_silenced_total{{kind="{kind}"}} '
    return float(next(x for x in text.splitlines() if x.startswith(line)).split()[-1])


@pytest.mark.timeout(600)
async def test_a_silence_survives_a_gateway_restart_and_expires_by_hand(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    prefix = uuid.uuid4().hex[:8]
    added = cli(
        tmp_path,
        *("silence", "add", "--check", f"S1-{prefix}-*", "--duration", "1h"),
        *("--reason", "planned failover", "--json"),
    )
    assert added.returncode == 0, added.stderr
    silence_id = json.loads(added.stdout)["id"]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_gateway_process(tmp_path, prefect_server, port)
    try:
        await wait_healthy(url)
        await post_alert(url, sentinel_check(f"S1-{prefix}-a"))
        await wait_drained(url)
        assert await silenced_count(url, "silence") == 1
        stop(process)
        process = start_gateway_process(tmp_path, prefect_server, port)
        await wait_healthy(url)
        await post_alert(url, sentinel_check(f"S1-{prefix}-b"))
        await post_alert(url, sentinel_check(f"S2-{prefix}-other"))
        await wait_drained(url)
        assert await silenced_count(url, "silence") == 1

        assert cli(tmp_path, "silence", "expire", silence_id).returncode == 0
        await post_alert(url, sentinel_check(f"S1-{prefix}-c"))
        await wait_drained(url)
        assert await silenced_count(url, "silence") == 1
    finally:
        stop(process)

    for check in (f"S1-{prefix}-a", f"S1-{prefix}-b"):
        run = await only_run(prefect_server, check)
        assert "silenced" in run["tags"] and f"silence:silence.{silence_id}" in run["tags"]
    for check in (f"S2-{prefix}-other", f"S1-{prefix}-c"):
        run = await only_run(prefect_server, check)
        assert "silenced" not in run["tags"]


async def test_silences_live_in_the_postgresql_outbox_database_when_the_outbox_does(
    tmp_path: Path, prefect_server: str, gateway_deployment: str, postgres_outbox_url: str
) -> None:
    prefix = uuid.uuid4().hex[:8]
    shared = {"REMEDIATE_OUTBOX_URL": postgres_outbox_url}
    added = cli(
        tmp_path / "elsewhere",
        *("silence", "add", "--check", f"PG-{prefix}-*", "--duration", "10m", "--reason", "pg"),
        *("--json",),
        **shared,
    )
    assert added.returncode == 0, added.stderr
    assert not (tmp_path / "elsewhere" / "gateway-outbox.sqlite3").exists()
    async with running_gateway(
        config(tmp_path, prefect_server, outbox_url=postgres_outbox_url)
    ) as gw:
        response = await gw.post_signed("/v1/alerts/sentinel", sentinel_check(f"PG-{prefix}-a"))
        assert response.status_code == 202
        await gw.drained()
    run = await only_run(prefect_server, f"PG-{prefix}-a")
    assert f"silence:silence.{json.loads(added.stdout)['id']}" in run["tags"]


# --- the flow: windows, the pause, the breaker ------------------------------------------------


@pytest.mark.timeout(600)
async def test_an_alert_inside_a_maintenance_window_is_recorded_but_starts_no_action(
    tmp_path: Path, fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = f"maint-{uuid.uuid4().hex[:6]}"
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    service_name = f"sim-{check}"
    window = {
        "name": "always",
        "cron": "* * * * *",
        "duration_s": 120,
        "services": [service_name],
        "reason": "database upgrade",
    }
    data = flow_catalog(check, sim_service, actions) | {"controls": {"maintenance": [window]}}
    data["policy"]["critical"]["propose_fix"] = True
    sim_service.break_it()
    fix_runner.write_catalog(data)
    catalog = Catalog.model_validate(data)
    body = {
        "id": f"{check}-1",
        "check_id": check,
        "service": service_name,
        "severity": "critical",
        "summary": "service down",
    }
    gateway_config = config(tmp_path, fix_runner.api_url, deployment=DEPLOYMENT)
    async with running_gateway(gateway_config, catalog) as gw:
        response = await gw.post_token("/v1/alerts/generic", body)
        assert response.status_code == 202, response.text
        await gw.drained()
        metrics = (await gw.client.get("/metrics")).text
    assert 'remediate_gateway_silenced_total{kind="maintenance"} 1.0' in metrics

    created = await only_run(fix_runner.api_url, check)
    run = fix_runner.wait_for(str(created["id"]), "Completed")
    assert "silenced" in run["tags"] and "silence:maintenance.always" in run["tags"]
    assert not any(t.startswith(("action", "fix:", "awaiting")) for t in run["tags"])
    assert sim_service.actions() == []
    text = "\n".join(notes(fix_runner, check))
    assert "**Silenced.**" in text and "maintenance window always" in text
    assert "database upgrade" in text
    assert "Runbook action" not in text and "Fix proposal" not in text


@pytest.fixture
def paused_cleanup(fix_runner: FixRunner) -> Any:
    """Whatever a test does, automation is not left paused for the tests after it."""
    yield
    httpx.delete(f"{fix_runner.api_url}/variables/name/{PAUSE_VARIABLE}", trust_env=False)


@pytest.mark.timeout(600)
async def test_the_kill_switch_stops_an_action_already_waiting_for_approval(
    fix_runner: FixRunner, sim_service: SimService, webhook_sink: WebhookSink, paused_cleanup: Any
) -> None:
    check = f"paused-{uuid.uuid4().hex[:6]}"
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    data = flow_catalog(check, sim_service, actions)
    data["approval"]["notify"] = [{"kind": "webhook", "url": webhook_sink.url("/hook")}]
    fix_runner.write_catalog(data)
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")

    env = {"PREFECT_API_URL": fix_runner.api_url, "REMEDIATE_CATALOG": str(fix_runner.catalog)}
    home = fix_runner.data_dir
    paused = cli(home, "pause-automation", "--reason", "bad deploy", "--by", "oncall", **env)
    assert paused.returncode == 0, paused.stderr
    assert "paused by oncall" in paused.stdout
    again = cli(home, "pause-automation", "--reason", "again", **env)
    assert again.returncode == 0 and "already paused by oncall" in again.stdout
    events = [body["event"] for body in webhook_sink.bodies("/hook")]
    assert events == ["remediate.automation-paused"]

    accepted = fix_runner.resume(run_id, {"decision": "approve", "approver": "alice"})
    assert accepted["status"] == "ACCEPT"
    run = fix_runner.wait_for(run_id, "Completed")
    assert sim_service.actions() == []
    assert "stopped-by:automation-paused" in run["tags"]
    assert "action-approval:approved" in run["tags"] and "action-status:not-run" in run["tags"]
    result = notes(fix_runner, check)[-1]
    assert "Runbook action `restart`: not-run." in result
    assert "automation is paused by oncall" in result and "bad deploy" in result

    resumed = cli(home, "resume-automation", "--by", "oncall", **env)
    assert resumed.returncode == 0 and "resumed by oncall" in resumed.stdout
    events = [body["event"] for body in webhook_sink.bodies("/hook")]
    assert events == ["remediate.automation-paused", "remediate.automation-resumed"]
    assert cli(home, "resume-automation", **env).stdout.strip() == "automation is not paused"


@pytest.mark.timeout(900)
async def test_the_action_over_the_hourly_budget_is_refused_recorded_and_announced_once(
    fix_runner: FixRunner, sim_service: SimService, webhook_sink: WebhookSink
) -> None:
    check = f"budget-{uuid.uuid4().hex[:6]}"
    action = {
        "name": "clear-cache",
        "description": "Clear the cache and start the service",
        "risk": "low",
        "unattended": True,
        "run": [sim_service.script, "clear-cache"],
        "post_condition": {"healthy_within_s": 3, "interval_s": 0.5},
        "suggested_by": [check],
    }
    data = flow_catalog(check, sim_service, [action])
    data["controls"] = {"breakers": {"actions_per_service_per_hour": 1}}
    data["approval"]["notify"] = [{"kind": "webhook", "url": webhook_sink.url("/hook")}]
    fix_runner.write_catalog(data)

    runs = []
    for n in range(3):
        sim_service.kill()  # each alert finds the service down again
        run_id = await submit(fix_runner, alert(check).model_copy(update={"id": f"{check}-{n}"}))
        runs.append(fix_runner.wait_for(run_id, "Completed"))

    assert sim_service.actions() == ["clear-cache"]
    assert ["action-status:succeeded" in r["tags"] for r in runs] == [True, False, False]
    for refused in runs[1:]:
        assert "stopped-by:actions-per-hour" in refused["tags"]
        assert "action-status:not-run" in refused["tags"]
    text = "\n".join(notes(fix_runner, check))
    assert text.count("breaker actions-per-hour tripped (at most 1 per hour") == 2
    notices = [b for b in webhook_sink.bodies("/hook") if b["event"] == "remediate.breaker-tripped"]
    assert len(notices) == 1 and notices[0]["breaker"] == "actions-per-hour"


@pytest.mark.timeout(900)
async def test_the_fix_proposal_over_the_daily_budget_is_refused_and_recorded(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = f"fixbudget-{uuid.uuid4().hex[:6]}"
    data = flow_catalog(check, sim_service, [])
    data["services"][0]["repository"] = {
        "owner": "acme",
        "name": "gone",
        "clone_url": f"file:///nonexistent/{check}.git",
    }
    data["policy"]["critical"]["propose_fix"] = True
    data["controls"] = {"breakers": {"fix_proposals_per_day": 1}}
    fix_runner.write_catalog(data)

    runs = []
    for n in range(2):
        run_id = await submit(fix_runner, alert(check).model_copy(update={"id": f"{check}-{n}"}))
        runs.append(fix_runner.wait_for(run_id, "Completed"))

    first, second = (run["tags"] for run in runs)
    assert "fix:failed" in first and not any(t.startswith("stopped-by") for t in first)
    assert "stopped-by:fix-proposals-per-day" in second
    assert not any(t.startswith("fix:") for t in second)
    text = "\n".join(notes(fix_runner, check))
    assert "cannot clone the repository" in text
    assert text.count("**Fix proposal: not started.**") == 1
    assert "breaker fix-proposals-per-day tripped (at most 1 per day" in text


# --- the daily model spend cap ---------------------------------------------------------------


async def test_model_sessions_over_the_daily_spend_cap_are_refused_and_recorded(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
    model_server: ModelServer,
    refused_url: str,
) -> None:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-model-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)
    catalog = {
        "services": [
            {"name": "api", "checks": ["S1-*"], "health": [{"url": refused_url, "timeout_s": 1}]}
        ],
        "policy": {"critical": {"propose_fix": False}},
        "verification": {"attempts": 1, "interval_s": 0},
        "investigation": {"max_turns": 4},
        "controls": {"breakers": {"model_spend_usd_per_day": 0.001}},
    }
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    submit_conclusion = tool(
        "mcp__investigate__submit_investigation", summary="the api is down", hypotheses=[]
    )
    # 10,000 input tokens cost more than the whole day's USD 0.001
    model_server.play(Turn([submit_conclusion], input_tokens=10_000), Turn([text("done")]))

    def sentinel(check: str) -> Alert:
        return Alert.from_sentinel(
            {"check_id": check, "timestamp": "2026-11-29T15:00:00", "status": "fail"}
        )

    first = await remediate_alert(sentinel("S1-spend-a"))
    assert first.investigation is not None and first.investigation.cost_usd > 0.001
    asked = len(model_server.requests)
    second = await remediate_alert(sentinel("S1-spend-b"))

    assert second.investigation is not None
    assert second.investigation.status is InvestigationStatus.SKIPPED
    assert "breaker model-spend-per-day tripped" in second.investigation.reason
    assert "at most USD 0.0010 of model sessions per day" in second.investigation.reason
    assert len(model_server.requests) == asked  # no session started
    async with httpx.AsyncClient(base_url=prefect_server, trust_env=False) as client:
        limit = (await client.get("/v2/concurrency_limits/remediate-model-spend-per-day")).json()
        assert limit["limit"] == 10 and limit["active_slots"] == 10  # charged up to the cap
        run = (await client.get(f"/flow_runs/{second.flow_run_id}")).json()
        first_run = (await client.get(f"/flow_runs/{first.flow_run_id}")).json()
    assert "stopped-by:model-spend-per-day" in run["tags"]
    assert not any(t.startswith("stopped-by") for t in first_run["tags"])
    [issue] = [
        i for i in LocalTracker(tmp_path / "data" / "issues").issues() if "S1-spend-b" in i.title
    ]
    assert any("model-spend-per-day tripped" in c.body for c in issue.comments)


# --- dry-run (shadow) mode ---------------------------------------------------------------------


def artifacts(runner: FixRunner, run_id: str) -> dict[str, str]:
    response = httpx.post(
        f"{runner.api_url}/artifacts/filter",
        json={"artifacts": {"flow_run_id": {"any_": [run_id]}}},
        trust_env=False,
    )
    response.raise_for_status()
    return {a["key"]: str(a["data"]) for a in response.json() if a["key"]}


@pytest.mark.timeout(600)
async def test_a_dry_run_writes_pushes_runs_and_sends_nothing_and_its_artifacts_show_it_all(
    fix_runner: FixRunner,
    github_service: tuple[GitRemote, GitHubStandIn],
    sim_service: SimService,
    webhook_sink: WebhookSink,
) -> None:
    remote, standin = github_service
    check = f"shadow-{uuid.uuid4().hex[:6]}"
    data = flow_catalog(
        check, sim_service, [restart(sim_service.script, check), restore(sim_service.script)]
    )
    name = data["services"][0]["name"]
    data["services"][0]["repository"] = {
        "owner": "acme",
        "name": "service",
        "clone_url": remote.url("acme", "service"),
        "api_base_url": standin.base_url,
    }
    data["tracker"] = {"kind": "github"}
    data["policy"]["critical"]["propose_fix"] = True
    data["controls"] = {"dry_run": {"services": [name]}}
    data["notifications"] = {"channels": [{"kind": "webhook", "url": webhook_sink.url("/note")}]}
    data["approval"]["notify"] = [{"kind": "webhook", "url": webhook_sink.url("/hook")}]
    sim_service.break_it()
    fix_runner.write_catalog(data)
    fix_runner.model.play(*READ_EDIT)
    main = remote.branches("acme", "service")

    run_id = await submit(fix_runner, alert(check))
    run = fix_runner.wait_for(run_id, "Completed")

    would = {t for t in run["tags"] if t.startswith("would:")}
    assert "dry-run" in run["tags"]
    assert would == {
        "would:open-issue",
        "would:propose-fix",
        "would:ask-approval",
        "would:run-action",
    }
    assert standin.issues("acme/service") == [] and standin.pulls("acme/service") == []
    assert standin.violations == []
    assert remote.branches("acme", "service") == main
    assert sim_service.actions() == []
    assert webhook_sink.bodies("/hook") == []
    [notice] = webhook_sink.bodies("/note")
    assert notice["event"] == "dry-run"
    assert notice["facts"]["Would"].startswith("would open issue, propose fix")

    shown = artifacts(fix_runner, run_id)
    assert "**Dry run: nothing was written, pushed, run or sent.**" in shown["dry-run-issue"]
    assert check in shown["dry-run-issue"]
    assert "+TIMEOUT_S = 5.0" in shown["fix-diff"]
    assert "would wait for approval of diff" in shown["dry-run-fix"]
    action = shown["dry-run-action-approval"]
    assert "`restart`" in action and "would wait for approval by one of: alice" in action
    assert "restart normal" in action  # the command, with its bound parameter


def test_the_report_counts_what_dry_runs_would_have_done() -> None:
    def shadow(*tags: str, resolved: bool = False) -> RunRecord:
        extra = ["alert-resolved"] if resolved else []
        return RunRecord(
            id=uuid.uuid4().hex,
            created=datetime.now(UTC),
            state_type="COMPLETED",
            tags=["remediate", "dry-run", *tags, *extra],
        )

    records = [
        shadow("would:open-issue", "would:run-action", "would:ask-approval", resolved=True),
        shadow("would:open-issue", "would:propose-fix", "would:ask-approval"),
        shadow("would:open-issue"),
        RunRecord(id="x", created=datetime.now(UTC), state_type="COMPLETED", tags=["remediate"]),
    ]
    now = datetime.now(UTC)
    figures = {f.key: f for f in compute(records, now, now).figures}
    assert figures["dry_runs"].value == 3
    assert figures["dry_run_would_open_issue"].value == 3
    assert figures["dry_run_would_run_action"].value == 1
    assert figures["dry_run_would_propose_fix"].value == 1
    assert figures["dry_run_would_ask_approval"].value == 2
    assert figures["dry_run_needless"].value == 1
    assert figures["dry_run_needless"].note.startswith("of 2 ")


# --- audit export --------------------------------------------------------------------------------


@pytest.mark.timeout(900)
async def test_the_audit_export_round_trips_every_decision_made(
    fix_runner: FixRunner, sim_service: SimService, paused_cleanup: Any
) -> None:
    check = f"audit-{uuid.uuid4().hex[:6]}"
    actions = [restart(sim_service.script, check), restore(sim_service.script)]
    data = flow_catalog(check, sim_service, actions)
    data["controls"] = {"breakers": {"actions_per_service_per_hour": 1}}
    fix_runner.write_catalog(data)
    sim_service.break_it()  # the restart does not bring health back: its undo runs
    decisions = [
        {"decision": "approve", "approver": "alice", "comment": "try it"},
        {"decision": "approve", "approver": "alice"},  # over the hourly budget
        {"decision": "reject", "approver": "alice", "comment": "not now"},
    ]
    runs = []
    for n, decision in enumerate(decisions):
        run_id = await submit(fix_runner, alert(check).model_copy(update={"id": f"{check}-{n}"}))
        fix_runner.wait_for(run_id, "Suspended")
        assert fix_runner.resume(run_id, decision)["status"] == "ACCEPT"
        fix_runner.wait_for(run_id, "Completed")
        runs.append(run_id)

    env = {"PREFECT_API_URL": fix_runner.api_url}
    home = fix_runner.data_dir / check
    by = f"oncall-{check}"
    assert (
        cli(home, "pause-automation", "--reason", "audit drill", "--by", by, **env).returncode == 0
    )
    assert cli(home, "resume-automation", "--by", by, **env).returncode == 0
    added = cli(home, "silence", "add", "--duration", "1h", "--reason", "drill", "--json")
    silence_id = json.loads(added.stdout)["id"]
    assert cli(home, "silence", "expire", silence_id).returncode == 0

    exported = {}
    for form in ("jsonl", "csv"):
        out = home / f"audit.{form}"
        done = cli(home, "audit", "--since", "1h", "--format", form, "--output", str(out), **env)
        assert done.returncode == 0, done.stderr
        text = out.read_text()
        exported[form] = (
            [AuditEntry.model_validate_json(line) for line in text.splitlines()]
            if form == "jsonl"
            else from_csv(text)
        )
    assert exported["jsonl"] == exported["csv"]
    mine = [
        e for e in exported["jsonl"] if e.run_id in runs or e.actor == by or e.subject == silence_id
    ]
    assert [e.at for e in mine] == sorted(e.at for e in mine)

    def of(run: str) -> list[tuple[str, ...]]:
        return [
            (e.kind.value, e.subject, e.verdict, e.actor, e.channel, e.comment, e.control)
            for e in mine
            if e.run_id == run
        ]

    assert of(runs[0]) == [
        ("action-decision", "restart", "approved", "alice", "prefect-api", "try it", ""),
        ("action-run", "restart", "failed-undo-failed", "alice", "prefect-api", "", ""),
    ]
    assert of(runs[1]) == [
        ("action-decision", "restart", "approved", "alice", "prefect-api", "", ""),
        ("control-stop", "action-approval-run", "", "", "", "", "actions-per-hour"),
    ]
    assert of(runs[2]) == [
        ("action-decision", "restart", "rejected", "alice", "prefect-api", "not now", ""),
    ]
    [ran] = [e for e in mine if e.kind == Kind.ACTION_RUN]
    assert ran.parameters == {"mode": "normal"} and ran.undo == "restore"
    assert ran.command.endswith("restart normal") and ran.hosts
    assert {(e.service, e.check) for e in mine if e.run_id} == {(f"sim-{check}", check)}
    pause, resumed = [(e.kind.value, e.reason) for e in mine if e.actor == by]
    assert pause == ("automation-paused", "audit drill")
    assert resumed[0] == "automation-resumed" and "audit drill" in resumed[1]
    assert [e.kind.value for e in mine if e.subject == silence_id] == [
        "silence-created",
        "silence-expired",
    ]
    bad = cli(home, "audit", "--since", "soon", **env)
    assert bad.returncode == 2 and "--since" in bad.stderr


@pytest.mark.timeout(600)
async def test_a_dry_run_names_the_rollback_target_and_rolls_nothing_back(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = f"shadow-rollback-{uuid.uuid4().hex[:6]}"
    deploy_bad_release(sim_service, live_for_s=60)
    data = rollback_catalog(check, sim_service)
    data["controls"] = {"dry_run": {"everything": True}}
    fix_runner.write_catalog(data)

    run_id = await submit(fix_runner, rollback_alert(check))
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.current() == "releases/v2"
    assert not any(a.startswith("rollback") for a in sim_service.actions())
    wanted = {
        "dry-run",
        "would:roll-back",
        "would:run-action",
        "rollback-from:v2",
        "rollback-to:v1",
    }
    assert wanted <= set(run["tags"])
    shown = artifacts(fix_runner, run_id)
    assert "from `v2` to `v1`" in shown["dry-run-rollback"]
    action = shown["dry-run-action-approval"]
    assert "release=v1" in action and "rollback v1" in action
