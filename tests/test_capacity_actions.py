"""Capacity forecasts beyond the issue: samples in PostgreSQL, charts GitHub draws, and the
runbook action a metric names, proposed through the approval gate."""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Failed

from flows.capacity import capacity_forecast
from flows.stages.capacity_actions import proposal_key
from remediate.capacity.collect import Sample
from remediate.capacity.forecast import forecast
from remediate.capacity.store import (
    PostgresSampleStore,
    SampleStore,
    SQLiteSampleStore,
    open_sample_store,
)
from remediate.catalog import Catalog, CatalogError, Repository, load_catalog
from remediate.markdown import inline
from remediate.patterns.detect import Finding, Kind
from remediate.patterns.issue import draft as pattern_draft
from remediate.reporting.mermaid import Line, thin, xychart
from remediate.trackers import GitHubTracker, LocalTracker
from remediate.trackers.github import ClientSettings
from remediate.trackers.local import LocalIssue
from remediate.trackers.token import GitHubToken
from tests.github_standin import GitHubStandIn
from tests.support.fix_runner import FixRunner
from tests.support.growing_file import Grower
from tests.support.sim_service import SimService
from tests.support.sshd import SSHServer
from tests.test_capacity import ssh_catalog

REPO = "acme/store"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def growing_samples(count: int = 40) -> list[Sample]:
    values = [1000.0 + 250.5 * i for i in range(count)]
    values[7] = 90_000.0  # an outlier the trend ignores
    return [
        Sample(metric="spool", host="app-1", at=T0 + timedelta(minutes=15 * i), value=v)
        for i, v in enumerate(values)
    ] + [Sample(metric="spool", host="app-1", at=T0, value=None, error="exit 1")]


async def exercise(store: SampleStore) -> tuple[list[tuple[datetime, float]], object, list[Any]]:
    samples = growing_samples()
    assert await store.add("store", samples) == 40
    assert await store.add("store", samples[:3]) == 3  # already stored: kept once
    series = await store.series("store", "spool", "app-1", T0 + timedelta(hours=1))
    result = forecast(series, 50_000, timedelta(days=7), T0 + timedelta(hours=10))
    claims = [
        await store.claim("k", "run-a", T0),
        await store.claim("k", "run-b", T0),
    ]
    await store.finish("k", "succeeded")
    claims.append(await store.claim("k", "run-a", T0))
    return series, result, claims


async def test_sqlite_and_postgresql_give_the_same_series_forecast_and_claims(
    tmp_path: Path, postgres_outbox_url: str
) -> None:
    assert isinstance(open_sample_store(postgres_outbox_url, tmp_path), PostgresSampleStore)
    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    assert isinstance(open_sample_store(url, tmp_path), SQLiteSampleStore)
    with pytest.raises(ValueError, match="REMEDIATE_OUTBOX_URL"):
        open_sample_store("mysql://x", tmp_path)

    async with open_sample_store(None, tmp_path) as sqlite_store:
        on_sqlite = await exercise(sqlite_store)
    async with open_sample_store(postgres_outbox_url, tmp_path) as pg_store:
        on_postgres = await exercise(pg_store)
    assert (tmp_path / "capacity.sqlite3").exists()
    assert on_sqlite == on_postgres
    series, result, claims = on_postgres
    assert len(series) == 36 and series[0] == (T0 + timedelta(hours=1), 2002.0)
    assert result.slope_per_hour == pytest.approx(1002.0)  # type: ignore[attr-defined]
    assert claims == [("run-a", None), ("run-a", None), ("run-a", "succeeded")]


async def test_flow_keeps_samples_in_the_outbox_postgresql_when_configured(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
    sshd: SSHServer,
    postgres_outbox_url: str,
) -> None:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("REMEDIATE_OUTBOX_URL", postgres_outbox_url)
    metric = {"name": "memory", "kind": "memory", "threshold": 100}
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(ssh_catalog(sshd, [metric])))
    for _ in range(2):
        await capacity_forecast()
    since = datetime.now(UTC) - timedelta(hours=1)
    async with open_sample_store(postgres_outbox_url, tmp_path) as store:
        assert len(await store.series("store", "memory", "store-1", since)) == 2
    assert not (tmp_path / "data" / "capacity.sqlite3").exists()


# --- charts GitHub draws --------------------------------------------------------------------


def mermaid_blocks(body: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", body, flags=re.S)


async def test_github_capacity_issue_carries_the_series_as_a_mermaid_chart(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
    sshd: SSHServer,
    github_standin: GitHubStandIn,
) -> None:
    github_standin.add_repo(REPO)
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GITHUB_TOKEN", github_standin.token)
    spool = sshd.write_file("capacity-chart.dat", "z" * 9000)
    metric = {"name": "spool", "kind": "path_size", "path": str(spool), "threshold": 10_000}
    catalog = ssh_catalog(sshd, [metric]) | {"tracker": {"kind": "github"}}
    owner, name = REPO.split("/")
    catalog["services"][0]["repository"] = {
        "owner": owner,
        "name": name,
        "api_base_url": github_standin.base_url,
    }
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    now = datetime.now(UTC)
    earlier = [
        Sample(metric="spool", host="store-1", at=now - timedelta(minutes=50 - 10 * i), value=v)
        for i, v in enumerate([4000.0, 5000.0, 6000.0, 7000.0, 8000.0])
    ]
    async with open_sample_store(None, tmp_path / "data") as store:
        await store.add("store", earlier)

    [result] = await capacity_forecast()
    assert result.forecast is not None and result.forecast.inside_horizon
    assert result.issue is not None and result.action is None  # the metric names no action

    [issue] = github_standin.issues(REPO)
    assert github_standin.violations == []
    [block] = mermaid_blocks(issue.body or "")
    assert block.startswith("xychart-beta\n")
    assert 'title "spool on store-1"' in block
    assert "line [4000, 5000, 6000, 7000, 8000, 9000]" in block
    assert "line [10000, 10000, 10000, 10000, 10000, 10000]" in block
    assert "file://" not in (issue.body or "")
    assert "Lines, in order: samples, trend (Theil-Sen), threshold." in (issue.body or "")
    assert issue.comments == []


def test_github_pattern_issue_carries_the_daily_counts_as_a_mermaid_chart(
    github_standin: GitHubStandIn,
) -> None:
    github_standin.add_repo(REPO)
    owner, name = REPO.split("/")
    repository = Repository.model_validate(
        {"owner": owner, "name": name, "api_base_url": github_standin.base_url}
    )
    from pydantic import SecretStr

    token = GitHubToken(SecretStr(github_standin.token), "environment variable GITHUB_TOKEN")
    tracker = GitHubTracker(repository, token, client=ClientSettings.unpaced())
    finding = Finding(
        kind=Kind.INCREASING,
        fingerprint="fp-1",
        check="disk-full",
        service="db",
        occurrences=22,
        runs=[],
        daily=[(date(2026, 11, d), n) for d, n in ((1, 1), (2, 2), (3, 4), (4, 6), (5, 9))],
        detail="daily counts rise",
    )
    tracker.open_or_update(pattern_draft(finding, Catalog(), None, T0), T0)
    [issue] = github_standin.issues(REPO)
    assert github_standin.violations == []
    [block] = mermaid_blocks(issue.body or "")
    assert 'x-axis ["11-01", "11-02", "11-03", "11-04", "11-05"]' in block
    assert "bar [1, 2, 4, 6, 9]" in block
    assert "![" not in (issue.body or "")


# --- the runbook action a metric names ------------------------------------------------------

THRESHOLD = 2_000_000
UNREACHED = {
    "name": "app-1",
    "address": "127.0.0.1",
    "user": "deploy",
    "known_hosts": "/etc/ssh/ssh_known_hosts",
    "private_key": "/etc/remediate/id",
}


def clean_spool(**extra: Any) -> dict[str, Any]:
    return {
        "name": "clean-spool",
        "description": "Empty a spool file",
        "risk": "medium",
        "parameters": [
            {"name": "path", "kind": "string", "pattern": r"/.+\.dat", "default": "/none.dat"}
        ],
        "run": ["truncate", "-s", "0", "{path}"],
        "post_condition": {"healthy_within_s": 5, "interval_s": 0.5},
        **extra,
    }


def action_catalog(
    sim: SimService | None,
    spool: Path,
    runbook: dict[str, Any],
    target: Path | None = None,
    **metric_extra: Any,
) -> dict[str, Any]:
    """Without ``sim``: a host that is never reached, for catalog checks."""
    metric = {
        "name": "spool",
        "kind": "path_size",
        "path": str(spool),
        "threshold": THRESHOLD,
        "horizon_hours": 1,
        "min_samples": 3,
        "action": {"name": "clean-spool", "parameters": {"path": str(target or spool)}},
        **metric_extra,
    }
    return {
        "services": [
            {
                "name": "spooler",
                "health": [{"url": sim.health_url if sim else "http://127.0.0.1:9/health"}],
                "hosts": [sim.host() if sim else UNREACHED],
                "actions": [runbook],
                "metrics": [metric],
            }
        ],
        "approval": {"approvers": ["alice"]},
        "tracker": {"kind": "local"},
    }


def spool_file(sim: SimService, name: str = "spool.dat", content: bytes = b"") -> Path:
    path = sim.root / name
    path.write_bytes(content)
    shutil.chown(path, sim.sshd.user, sim.sshd.user)
    return path


def spool_issue(data_dir: Path) -> LocalIssue:
    [issue] = [
        i for i in LocalTracker(data_dir / "issues").issues() if i.title.startswith("[capacity]")
    ]
    return issue


def test_catalog_refuses_a_metric_action_it_cannot_run(tmp_path: Path) -> None:
    spool = tmp_path / "spool.dat"

    def load(runbook: dict[str, Any], **metric: Any) -> Catalog:
        data = action_catalog(None, spool, runbook, **metric)
        (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(data))
        return load_catalog(tmp_path / "catalog.yaml")

    with pytest.raises(CatalogError, match="action clean-spool is not an action of this service"):
        load(clean_spool(name="other"))
    with pytest.raises(CatalogError, match="metric spool: action clean-spool: parameter path"):
        load(clean_spool(), action={"name": "clean-spool", "parameters": {"path": "/x; id"}})
    with pytest.raises(CatalogError, match="unknown parameter"):
        load(clean_spool(), action={"name": "clean-spool", "parameters": {"mode": "a"}})
    short = load(clean_spool(), action="clean-spool").services[0].metrics[0]
    assert short.action is not None and short.action.parameters == {}


async def test_unattended_action_runs_without_a_gate_once_per_issue_and_day(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
    sim_service: SimService,
) -> None:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    sim_service.ctl("start")
    spool = spool_file(sim_service)
    # it empties another file, so the forecast stays inside the horizon on the next run
    other = spool_file(sim_service, "other.dat", b"o" * 5000)
    action = clean_spool(risk="low", unattended=True)
    (tmp_path / "catalog.yaml").write_text(
        yaml.safe_dump(action_catalog(sim_service, spool, action, target=other))
    )
    with Grower(spool, chunk=1000, every_s=0.05):
        for _ in range(3):
            runs = await capacity_forecast()
            time.sleep(0.5)
        [result] = runs
        assert result.action is not None and result.action.gate == "unattended"
        assert result.action.status.value == "succeeded"
        assert other.stat().st_size == 0

        [again] = await capacity_forecast()  # the next scheduled run, same day
    assert again.forecast is not None and again.forecast.inside_horizon
    assert again.issue is not None and again.action is None

    issue = spool_issue(tmp_path / "data")
    text = "\n".join(c.body for c in issue.comments)
    assert text.count("Runbook action proposed: `clean-spool`") == 1
    assert "Approval gate: skipped (the catalog marks it unattended, risk low)." in text
    assert inline(f"truncate -s 0 {other}", 1000) in text
    assert re.search(r"`spool` on `app-1` after the action: [0-9,]+ bytes", text)


async def test_forecast_inside_the_horizon_proposes_the_action_an_approver_runs_it(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    sim_service.ctl("start")
    spool = spool_file(sim_service)
    fix_runner.write_catalog(action_catalog(sim_service, spool, clean_spool()))
    with Grower(spool, chunk=1000, every_s=0.05):
        for _ in range(2):
            fix_runner.wait_for(fix_runner.start_capacity_run(), "Completed")
            time.sleep(0.5)
        run_id = fix_runner.start_capacity_run()
        fix_runner.wait_for(run_id, "Suspended")
    grown = spool.stat().st_size
    assert grown > 0

    issue = spool_issue(fix_runner.data_dir)
    [proposed] = [c.body for c in issue.comments if "Runbook action proposed" in c.body]
    assert "`clean-spool`" in proposed and "It waits for approval." in proposed
    assert inline(f"truncate -s 0 {spool}", 1000) in proposed

    refused = fix_runner.resume(run_id, {"decision": "approve", "approver": "mallory"})
    assert refused["status"] == "REJECT"
    assert spool.stat().st_size == grown
    accepted = fix_runner.resume(run_id, {"decision": "approve", "approver": "alice"})
    assert accepted["status"] == "ACCEPT"
    run = fix_runner.wait_for(run_id, "Completed")

    assert spool.stat().st_size == 0
    assert "action-status:succeeded" in run["tags"] and "action:clean-spool" in run["tags"]
    issue = spool_issue(fix_runner.data_dir)
    text = "\n".join(c.body for c in issue.comments)
    assert "Runbook action `clean-spool`: succeeded." in text
    assert "**Approval gate: approved** by alice via `prefect-api` at 20" in text
    assert "`spool` on `app-1` after the action: 0 bytes" in text

    later = fix_runner.start_capacity_run()  # the next scheduled run does not ask again
    fix_runner.wait_for(later, "Completed")
    issue = spool_issue(fix_runner.data_dir)
    assert sum("Runbook action proposed" in c.body for c in issue.comments) == 1


def test_chart_text_from_alerts_cannot_leave_the_mermaid_block() -> None:
    hostile = 'disk"]\n```\n<img src=x onerror=alert(1)> `rm -rf /` {x}'
    block = xychart(hostile, [hostile], [Line("samples", [1e9, 2.5e-7, -0.0])], hostile)
    assert block.startswith("```mermaid\n") and block.count("```") == 2
    body = block.split("```")[1]
    assert "<img" not in body and 'disk"' not in body and "`" not in body
    assert "line [1000000000, 0, 0]" in body  # plain decimals: Mermaid reads no exponent
    assert thin(1000)[:2] == [0, 17] and len(thin(1000)) == 60 and thin(1000)[-1] == 999


@flow(name="capacity-approval-wait")
def _waiting_run() -> None:
    """Only its runs are used: one stands for a run whose approval timed out."""


async def test_a_proposal_whose_run_ended_undecided_is_recorded_and_not_repeated(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
    sim_service: SimService,
) -> None:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    spool = spool_file(sim_service, content=b"z" * 9000)
    catalog = action_catalog(
        sim_service, spool, clean_spool(), threshold=10_000, horizon_hours=24, min_samples=6
    )
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    now = datetime.now(UTC)
    earlier = [
        Sample(metric="spool", host="app-1", at=now - timedelta(minutes=50 - 10 * i), value=v)
        for i, v in enumerate([4000.0, 5000.0, 6000.0, 7000.0, 8000.0])
    ]
    async with get_client() as client:
        ended = await client.create_flow_run(
            _waiting_run, state=Failed(message="Suspended flow run timed out")
        )
    key = proposal_key("capacity:spooler:spool:app-1", "clean-spool", now)
    async with open_sample_store(None, tmp_path / "data") as store:
        await store.add("spooler", earlier)
        assert await store.claim(key, str(ended.id), now) == (str(ended.id), None)

    for _ in range(2):
        [result] = await capacity_forecast()
        assert result.forecast is not None and result.forecast.inside_horizon
        assert result.issue is not None and result.action is None
    async with open_sample_store(None, tmp_path / "data") as store:
        assert await store.claim(key, "another-run", now) == (str(ended.id), "not-decided")

    [note] = [c.body for c in spool_issue(tmp_path / "data").comments]
    assert note.startswith("**Runbook action `clean-spool`: not decided.**")
    assert "Suspended flow run timed out" in note and "not proposed again today" in note
    assert spool.stat().st_size == 9000
