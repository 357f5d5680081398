"""Runbook actions suggested by diagnosis findings: kinds from real probes, catalog
validation, precedence of check ids, and the flow proposing a restart for a refused
connection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from remediate.actions.config import RunbookAction, suggest
from remediate.catalog import CatalogError, Service
from remediate.diagnosis.findings import findings_of
from remediate.diagnosis.models import CheckKind, DependencyCheck, Diagnosis
from remediate.diagnosis.probes import probe_services
from tests.support.fix_runner import FixRunner
from tests.support.http_services import Service as HttpService
from tests.support.sim_service import SimService
from tests.test_fix_approval import submit
from tests.test_runbook_actions import (
    alert,
    flow_catalog,
    form,
    load,
    notes,
    report,
    restart,
    restore,
)


def action(name: str, **extra: Any) -> RunbookAction:
    return RunbookAction.model_validate(
        {"name": name, "description": "d", "risk": "low", "run": ["svc", name], **extra}
    )


async def test_findings_come_from_real_probes_of_the_service(
    http_service: HttpService, refused_url: str
) -> None:
    http_service.set(status=503)
    refused = Service.model_validate({"name": "api", "health": [{"url": refused_url}]})
    failing = Service.model_validate({"name": "web", "health": [{"url": http_service.health_url}]})
    diagnosis = Diagnosis(services=await probe_services([refused, failing]))

    assert [f.kind for f in findings_of(diagnosis, "api")] == ["probe:connect"]
    web = findings_of(diagnosis, "web")
    assert [f.kind for f in web] == ["probe:http_status", "probe:http_status:503"]
    assert "upstream database unavailable" in web[0].detail
    assert findings_of(diagnosis, "other") == [] and findings_of(None, "api") == []


def test_dependency_checks_give_findings() -> None:
    now = datetime.now(UTC)
    checks = [
        DependencyCheck(
            service="api", kind=CheckKind.TCP, name="db", target="db:5432", ok=False,
            error="Connection refused", checked_at=now,
        ),
        DependencyCheck(
            service="api", kind=CheckKind.DNS, name="cache", target="cache", ok=True, slow=True,
            checked_at=now,
        ),
        DependencyCheck(
            service="api", kind=CheckKind.TLS, name="cert", target="api:443", ok=True,
            warning="certificate expires in 3.0 days (under 14)", checked_at=now,
        ),
    ]  # fmt: skip
    found = findings_of(Diagnosis(services=[], checks=checks), "api")
    assert [f.kind for f in found] == [
        "dependency:tcp",
        "dependency:dns:slow",
        "dependency:tls:expiring",
    ]
    assert "Connection refused" in found[0].detail


def test_check_id_wins_then_the_first_action_naming_a_finding(
    http_service: HttpService,
) -> None:
    from remediate.diagnosis.findings import Finding

    refused = [Finding("probe:connect", "health endpoint health: refused")]
    actions = [
        action("clear-cache", suggested_by=["api-cache"]),
        action("restart", suggested_by_findings=["probe:connect", "probe:timeout"]),
        action("scale", suggested_by_findings=["probe:*"]),
    ]
    by_check = suggest(actions, "api-cache", refused)
    assert by_check is not None and by_check.action.name == "clear-cache"
    assert by_check.reason == "check id api-cache"
    by_finding = suggest(actions, "api-down", refused)
    assert by_finding is not None and by_finding.action.name == "restart"
    assert by_finding.reason == "diagnosis finding probe:connect: health endpoint health: refused"
    status = [Finding("probe:http_status:503", "x")]
    wildcard = suggest(actions, "api-down", status)
    assert wildcard is not None and wildcard.action.name == "scale"
    assert suggest(actions[:2], "api-down", status) is None
    assert suggest(actions, "api-down", []) is None


@pytest.mark.parametrize("pattern", ["probe:refused", "connection refused", "dependency:smtp"])
def test_a_finding_pattern_that_names_no_finding_is_refused(tmp_path: Any, pattern: str) -> None:
    host = {"name": "app-1", "address": "127.0.0.1", "user": "u", "known_hosts": "/k"}
    bad = {
        "name": "restart",
        "description": "d",
        "risk": "low",
        "run": ["svc", "restart"],
        "suggested_by_findings": [pattern],
    }
    with pytest.raises(CatalogError) as error:
        load(tmp_path, {"services": [{"name": "app", "hosts": [host], "actions": [bad]}]})
    assert "suggested_by_findings" in str(error.value) and "names no diagnosis finding" in str(
        error.value
    )


def diagnosing(catalog: dict[str, Any]) -> dict[str, Any]:
    catalog["policy"]["critical"]["diagnose"] = True
    return catalog


async def test_a_refused_connection_proposes_the_restart_its_check_id_does_not_name(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "findings-refused"
    by_finding = restart(
        sim_service.script, "some-other-check", suggested_by_findings=["probe:connect"]
    )
    actions = [by_finding, restore(sim_service.script)]
    fix_runner.write_catalog(diagnosing(flow_catalog(check, sim_service, actions)))
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")

    shown = form(fix_runner, run_id)
    assert "`restart`" in shown and "suggested by | diagnosis finding probe:connect" in shown
    assert sim_service.actions() == []
    fix_runner.resume(run_id, {"decision": "approve", "approver": "alice"})
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == ["restart normal"]
    assert "action:restart" in run["tags"] and "action-status:succeeded" in run["tags"]
    text = "\n".join(notes(fix_runner, check))
    assert "diagnosis finding probe:connect" in text
    assert "Runbook action `restart`: succeeded." in report(fix_runner, run_id)


async def test_a_finding_no_action_names_proposes_nothing(
    fix_runner: FixRunner, sim_service: SimService
) -> None:
    check = "findings-unmapped"
    assert sim_service.ctl("start").returncode == 0
    sim_service.break_it()
    by_finding = restart(
        sim_service.script, "some-other-check", suggested_by_findings=["probe:connect"]
    )
    actions = [by_finding, restore(sim_service.script)]
    fix_runner.write_catalog(diagnosing(flow_catalog(check, sim_service, actions)))
    run_id = await submit(fix_runner, alert(check))
    run = fix_runner.wait_for(run_id, "Completed")

    assert sim_service.actions() == ["start"]
    assert not [t for t in run["tags"] if t.startswith("action")]
    assert "http_status" in report(fix_runner, run_id)
    assert not [n for n in notes(fix_runner, check) if "Runbook action" in n]
