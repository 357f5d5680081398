"""Incidents across services: correlated alerts become one incident issue and one fix
proposal (real Prefect server, the real Claude Code CLI against the scripted model, the
local tracker); the correlation rules and their configuration."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flows.remediate_alert import remediate_alert
from remediate.alerts import Alert, Severity
from remediate.catalog import CatalogError, load_catalog
from remediate.cli import _control
from remediate.controls.audit import Kind
from remediate.controls.audit_cli import run_entries
from remediate.controls.config import Incidents
from remediate.controls.incidents import Basis, Party, correlate, partners
from remediate.diagnosis.config import Dependency
from remediate.runs.api import PrefectAPI
from remediate.trackers import LocalTracker
from tests.support.model_server import ModelServer
from tests.support.processes import free_port
from tests.test_fix_proposal import read_edit

FIX_PROMPT = "propose the smallest fix"


def make_alert(check: str, service: str | None, at: datetime, **labels: str) -> Alert:
    return Alert(
        id=f"{check}-1",
        source="test",
        check_id=check,
        service=service,
        severity=Severity.CRITICAL,
        summary=f"{check} failing",
        labels=labels,
        fired_at=at,
    )


# --- correlation rules and configuration ----------------------------------------------------


def test_alerts_correlate_by_a_shared_dependency_or_a_label_rule_within_the_window() -> None:
    at = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    db = Dependency(name="db", host="10.0.0.5", port=5432)
    same_address = Dependency(name="orders-db", host="10.0.0.5", port=5432)
    cache = Dependency(name="cache", host="10.0.0.9", port=6379)
    config = Incidents(window_s=60, rules=[{"name": "same-cluster", "labels": ["cluster"]}])
    api = Party(make_alert("api-health", "api", at, cluster="eu-1"), (db,))

    worker = Party(make_alert("worker-health", "worker", at + timedelta(seconds=30)), (db,))
    found = correlate(api, worker, config)
    assert (
        found is not None and found.basis is Basis.DEPENDENCY and found.tag_value == "dependency.db"
    )
    assert "services api and worker share the catalog dependency db (10.0.0.5:5432)" in found.text
    assert "started 30 s apart (window 60 s)" in found.text

    orders = Party(make_alert("orders-health", "orders", at), (same_address,))
    by_address = correlate(api, orders, config)
    assert by_address is not None and "orders-db in orders, the same address" in by_address.text

    late = Party(make_alert("worker-health", "worker", at + timedelta(seconds=61)), (db,))
    assert correlate(api, late, config) is None
    assert correlate(api, Party(api.alert, (db,)), config) is None  # same fingerprint

    billing = Party(make_alert("billing-health", "billing", at), (cache,))
    assert correlate(api, billing, config) is None
    labelled = Party(make_alert("billing-health", "billing", at, cluster="eu-1"), (cache,))
    by_rule = correlate(api, labelled, config)
    assert by_rule is not None and by_rule.tag_value == "rule.same-cluster"
    assert "correlation rule same-cluster: both alerts carry cluster=eu-1" in by_rule.text
    assert correlate(api, labelled, Incidents(window_s=60)) is None  # no rule configured

    services = {"api": (db,), "worker": (db,), "orders": (same_address,), "billing": (cache,)}
    assert partners("api", services) == {"worker", "orders"}
    assert partners("billing", services) == set()


@pytest.mark.parametrize(
    ("incidents", "message"),
    [
        ({"window_s": 0}, "controls.incidents.window_s: Input should be greater than 0"),
        ({"rules": [{"name": "r", "labels": []}]}, "controls.incidents.rules.0.labels:"),
        (
            {"rules": [{"name": "r", "labels": ["bad label"]}]},
            "controls.incidents.rules.0.labels: Value error, not a label name: 'bad label'",
        ),
        (
            {"rules": [{"name": "r", "labels": ["a"]}, {"name": "r", "labels": ["b"]}]},
            "controls.incidents.rules: Value error, rule name(s) appear twice: r",
        ),
        ({"windw_s": 5}, "controls.incidents.windw_s: Extra inputs are not permitted"),
    ],
)
def test_catalog_refuses_bad_incident_settings_naming_the_key(
    tmp_path: Path, incidents: dict[str, Any], message: str
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"controls": {"incidents": incidents}}))
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    assert message in str(error.value)


# --- end to end -----------------------------------------------------------------------------


async def _tags(prefect_server: str, run_id: str | None) -> list[str]:
    async with httpx.AsyncClient(base_url=prefect_server, trust_env=False) as client:
        response = await client.get(f"/flow_runs/{run_id}")
        response.raise_for_status()
        return list(response.json()["tags"])


def _sessions(model_server: ModelServer) -> list[str]:
    """The first prompt of each fix session the model was asked for."""
    firsts = []
    for request in model_server.model_requests():
        messages = request["messages"]
        if any(m["role"] == "assistant" for m in messages):
            continue
        prompt = str(messages[0]["content"])
        if FIX_PROMPT in prompt:
            firsts.append(prompt)
    return firsts


@pytest.mark.timeout(600)
async def test_two_services_failing_together_give_one_incident_issue_and_one_fix_proposal(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_server: str,
    model_server: ModelServer,
    service_repo: Path,
    refused_url: str,
) -> None:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-model-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)
    db = {"name": "db", "host": "127.0.0.1", "port": free_port()}
    cache = {"name": "cache", "host": "127.0.0.1", "port": free_port()}
    repository = {"owner": "acme", "name": "service", "clone_url": str(service_repo)}

    def service(name: str, dependency: dict[str, Any], repo: bool) -> dict[str, Any]:
        return {
            "name": name,
            "checks": [f"{name}-*"],
            "health": [{"url": refused_url, "timeout_s": 1}],
            "dependencies": [dependency],
            **({"repository": repository} if repo else {}),
        }

    catalog = {
        "services": [
            service("api", db, True),
            service("worker", db, True),
            service("billing", cache, False),
        ],
        "policy": {"critical": {"investigate": False, "run_actions": False}},
        "verification": {"attempts": 1, "interval_s": 0},
        "controls": {"incidents": {"window_s": 600, "wait_s": 300}},
    }
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    model_server.play(*read_edit())
    now = datetime.now(UTC)

    # the three runs start at once: the lock decides which leads
    outcomes = await asyncio.gather(
        remediate_alert(make_alert("api-health", None, now)),
        remediate_alert(make_alert("worker-health", None, now + timedelta(seconds=5))),
        remediate_alert(make_alert("billing-health", None, now + timedelta(seconds=2))),
    )
    api_outcome, worker, billing = outcomes
    tags = {o.service: await _tags(prefect_server, o.flow_run_id) for o in outcomes}

    roles = {name: [t for t in tags[name] if t.startswith("incident-role:")] for name in tags}
    [lead] = [o for o in (api_outcome, worker) if roles[o.service] == ["incident-role:lead"]]
    [member] = [o for o in (api_outcome, worker) if o is not lead]
    assert roles[member.service] == ["incident-role:member"]
    assert f"incident:{lead.flow_run_id}" in tags[member.service]
    assert f"incident:{lead.flow_run_id}" in tags[lead.service]
    assert "correlated-by:dependency.db" in tags[member.service]
    # each fingerprint keeps its own tags and history
    for outcome in outcomes:
        assert f"fingerprint:{outcome.fingerprint}" in tags[outcome.service]
        assert f"service:{outcome.service}" in tags[outcome.service]
    assert len({o.fingerprint for o in outcomes}) == 3

    # one fix proposal, by the lead, with the member's evidence
    assert lead.fix is not None and lead.fix.status.value == "proposed", lead.fix
    assert member.fix is None and not any(t.startswith("fix:") for t in tags[member.service])
    [prompt] = _sessions(model_server)
    assert f"{lead.service}-health" in prompt
    assert f"related alert {member.service} ({member.service}-health)" in prompt
    assert "billing-health" not in prompt

    # one issue for both, listing them and explaining the correlation
    issues = LocalTracker(tmp_path / "data" / "issues").issues()
    titles = [i.title for i in issues]
    assert sum(f"{member.service}-health" in t for t in titles) == 0, titles
    [incident_issue] = [i for i in issues if f"{lead.service}-health" in i.title]
    assert lead.issue is not None and member.issue is not None
    assert member.issue.number == lead.issue.number == incident_issue.number
    comments = "\n".join(c.body for c in incident_issue.comments)
    assert f"**Part of this incident:** alert `{member.service}-health`" in comments
    explained = f"services {lead.service} and {member.service} share the catalog dependency db"
    assert comments.count(explained) == 2  # in the member's comment and in the list
    assert "**Incident across services:** this issue covers 2 alerts" in comments
    assert "evidence included" in comments
    assert "billing-health" not in comments

    assert _control(tags[member.service]) == (
        f"incident of run {str(lead.flow_run_id)[:8]} (dependency.db)"
    )
    assert _control(tags[lead.service]) == "-"

    # an alert correlating after the lead's fix proposal started joins late: on the issue,
    # without a proposal of its own
    late = await remediate_alert(make_alert("worker-queue", None, now + timedelta(seconds=9)))
    late_tags = await _tags(prefect_server, late.flow_run_id)
    assert "incident-role:late" in late_tags and f"incident:{lead.flow_run_id}" in late_tags
    assert late.fix is None and late.issue is not None
    assert late.issue.number == lead.issue.number
    assert len(_sessions(model_server)) == 1
    [incident_issue] = [
        i
        for i in LocalTracker(tmp_path / "data" / "issues").issues()
        if i.number == lead.issue.number
    ]
    [late_comment] = [c.body for c in incident_issue.comments if "`worker-queue`" in c.body]
    assert "joined after the lead's fix proposal had started" in late_comment

    # each joining is in the audit export, with its explanation
    async with PrefectAPI(prefect_server, timeout=30, attempts=3) as api:
        audit = await run_entries(api, now - timedelta(minutes=1))
    mine = {o.flow_run_id for o in (api_outcome, worker, billing, late)}
    joinings = sorted(
        (e.run_id, e.verdict, e.subject, e.control)
        for e in audit
        if e.kind is Kind.INCIDENT_JOINED and e.run_id in mine
    )
    assert joinings == sorted(
        [
            (member.flow_run_id, "member", lead.flow_run_id, "dependency.db"),
            (late.flow_run_id, "late", lead.flow_run_id, "dependency.db"),
        ]
    )

    # the unrelated alert in the window is its own incident
    assert roles["billing"] == ["incident-role:lead"]
    assert f"incident:{billing.flow_run_id}" in tags["billing"]
    assert billing.issue is not None and billing.issue.number != lead.issue.number
