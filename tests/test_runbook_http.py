"""HTTP runbook actions: catalog validation, URL building, and the flow calling a real
local admin API, with the token kept out of every record."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from remediate.actions.config import ActionParameterError, RunbookAction
from remediate.actions.http_call import run_http
from remediate.actions.runbook import run_action
from remediate.catalog import CatalogError, Service
from remediate.evidence.config import EvidenceLimits
from remediate.markdown import inline
from remediate.redaction import Redactor
from tests.support.admin_service import ADMIN_TOKEN, ADMIN_TOKEN_ENV, AdminService
from tests.support.fix_runner import FixRunner
from tests.test_fix_approval import submit
from tests.test_runbook_actions import alert, form, load, notes, report

AUTH = {"name": "Authorization", "env": ADMIN_TOKEN_ENV, "prefix": "Bearer "}


def http_restart(base: str, check_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "restart",
        "description": "Restart through the admin API",
        "risk": "medium",
        "parameters": [
            {"name": "target", "kind": "string", "pattern": "[a-z0-9.:@/-]+", "default": "shop"},
            {"name": "mode", "kind": "enum", "choices": ["normal", "safe"], "default": "normal"},
            {"name": "workers", "kind": "int", "minimum": 1, "maximum": 8, "default": 4},
        ],
        "http": {
            "method": "POST",
            "url": f"{base}/admin/services/{{target}}/restart?mode={{mode}}&force",
            "headers": [AUTH, {"name": "X-Requested-By", "value": "remediate"}],
            "body": {"reason": "alert", "workers": "{workers}", "mode": ["{mode}"]},
            "expected_status": [200],
        },
        "undo": "rollback",
        "post_condition": {"healthy_within_s": 3, "interval_s": 0.5},
        "suggested_by": [check_id],
        **extra,
    }


def http_rollback(base: str) -> dict[str, Any]:
    return {
        "name": "rollback",
        "description": "Start the previous release through the admin API",
        "risk": "medium",
        "http": {
            "method": "POST",
            "url": f"{base}/admin/services/shop/rollback",
            "headers": [AUTH],
        },
        "post_condition": {"healthy_within_s": 3, "interval_s": 0.5},
    }


def http_service(name: str, admin: AdminService, actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "checks": [name],
        "health": [{"url": admin.health_url, "timeout_s": 1}],
        "actions": actions,
    }


def test_http_action_builds_an_encoded_url_and_a_typed_body(tmp_path: Any) -> None:
    actions = [http_restart("http://10.0.0.5:8080", "shop-down"), http_rollback("http://x")]
    catalog = load(tmp_path, {"services": [{"name": "shop", "actions": actions}]})
    action = catalog.services[0].actions[0]
    assert (
        action.shown() == "POST http://10.0.0.5:8080/admin/services/shop/restart?mode=normal&force"
    )
    assert action.url({"target": "a:b@c.d", "mode": "safe"}).endswith(
        "/admin/services/a%3Ab%40c.d/restart?mode=safe&force"
    )
    assert action.body({"workers": 2}) == {"reason": "alert", "workers": 2, "mode": ["normal"]}
    assert action.http is not None
    assert [h.shown for h in action.http.headers] == [
        f"Authorization: Bearer ${ADMIN_TOKEN_ENV}",
        "X-Requested-By: remediate",
    ]


def test_the_example_catalog_loads_and_shows_no_secret() -> None:
    from pathlib import Path

    from remediate.actions.runbook import propose
    from remediate.catalog import load_catalog

    catalog = load_catalog(Path(__file__).parents[1] / "examples" / "catalog-actions.yaml")
    shop = catalog.services[0]
    drain = shop.action("drain-queue")
    assert drain is not None
    proposal = propose(shop, drain, Redactor(), "check id shop-queue-stuck")
    assert proposal.kind == "http" and proposal.hosts == []
    assert proposal.command == ("POST http://10.0.0.5:8081/admin/queues/orders/drain?batch=100")
    assert proposal.headers[0] == "Authorization: Bearer $SHOP_ADMIN_TOKEN"
    assert proposal.body == '{"batch": 100, "reason": "remediate"}'


@pytest.mark.parametrize(
    ("http", "message"),
    [
        ({"url": "http://{target}/restart"}, "may not fill the scheme, host or port"),
        ({"url": "http://h:{target}/restart"}, "may not fill the scheme, host or port"),
        ({"url": "{target}://h/restart"}, "url must be http or https"),
        ({"url": "ftp://h/restart"}, "url must be http or https"),
        ({"url": "http://h/svc-{target}/restart"}, "a placeholder must be the whole value"),
        ({"url": "http://h/restart?{target}=1"}, "keys are literals"),
        ({"url": "http://user:pw@h/restart"}, "credentials in the url are refused"),
        ({"url": "http://h/restart#{target}"}, "must not have a fragment"),
        ({"url": "http://h/re start"}, "must not hold spaces"),
        ({"url": "http://h/{nope}"}, "http uses unknown parameter(s) ['nope']"),
        ({"body": {"x": "{nope}"}}, "http uses unknown parameter(s) ['nope']"),
        ({"body": {"x": "pre-{target}"}}, "a placeholder must be the whole value"),
        ({"method": "GET"}, "a GET request has no body"),
        ({"method": "TRACE"}, "http.method"),
        (
            {"headers": [{"name": "Authorization", "value": "Bearer abc"}]},
            "takes its value from env",
        ),
        ({"headers": [{"name": "Host", "value": "evil"}]}, "set by the HTTP client"),
        ({"headers": [{"name": "X-A", "value": "a", "env": "A"}]}, "exactly one of value or env"),
        ({"headers": [{"name": "X-A", "value": "a\r\nX-B: b"}]}, "control characters"),
        ({"headers": [{"name": "X-A", "env": "lower"}]}, "headers.0.env"),
        ({"expected_status": [99]}, "expected_status"),
    ],
)
def test_catalog_refuses_bad_http_actions_naming_them(
    tmp_path: Any, http: dict[str, Any], message: str
) -> None:
    action = http_restart("http://h", "shop-down")
    action["http"] = action["http"] | http
    with pytest.raises(CatalogError) as error:
        load(
            tmp_path,
            {"services": [{"name": "shop", "actions": [action, http_rollback("http://h")]}]},
        )
    assert message in str(error.value)


def test_an_action_has_exactly_one_of_run_and_http_and_http_takes_no_hosts(tmp_path: Any) -> None:
    both = http_restart("http://h", "x", run=["svc", "restart"])
    with pytest.raises(CatalogError, match="give exactly one of run or http"):
        load(tmp_path, {"services": [{"name": "shop", "actions": [both]}]})
    host = {"name": "app-1", "address": "127.0.0.1", "user": "u", "known_hosts": "/k"}
    with_hosts = http_restart("http://h", "x", hosts=["app-1"], undo=None)
    with pytest.raises(CatalogError, match="hosts apply only to run"):
        load(tmp_path, {"services": [{"name": "shop", "hosts": [host], "actions": [with_hosts]}]})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("target", ".."),
        ("target", "."),
        ("target", "shop/../../etc"),
        ("target", "a/b"),
        ("target", "a b"),
        ("target", "x?y=1"),
        ("target", "x#frag"),
        ("target", "%2e%2e"),
        ("mode", "normal&admin=1"),
        ("mode", "$(id)"),
    ],
)
def test_hostile_parameter_values_are_refused_naming_the_parameter(name: str, value: str) -> None:
    action = RunbookAction.model_validate(http_restart("http://h", "x", undo=None))
    with pytest.raises(ActionParameterError, match=f"action restart: parameter {name}"):
        action.url({name: value})


async def test_a_hostile_value_that_bypassed_the_catalog_sends_nothing(
    admin_service: AdminService,
) -> None:
    valid = RunbookAction.model_validate(http_restart(admin_service.url, "x", undo=None))
    hostile = valid.parameters[0].model_copy(update={"default": ".."})
    action = valid.model_copy(update={"parameters": [hostile, *valid.parameters[1:]]})
    svc = Service.model_validate({"name": "shop", "actions": []})
    with pytest.raises(ActionParameterError, match=r"parameter target: '\.\.' cannot be"):
        await run_action(svc, action, EvidenceLimits(), Redactor())
    assert admin_service.requests == []


async def test_a_missing_token_variable_is_reported_and_nothing_is_sent(
    admin_service: AdminService,
) -> None:
    action = RunbookAction.model_validate(http_restart(admin_service.url, "x", undo=None))
    run = await run_http(action, Redactor(), environ={})
    assert run.http is not None and not run.ok
    assert (
        run.http.error == f"header Authorization: environment variable {ADMIN_TOKEN_ENV} is not set"
    )
    assert admin_service.requests == []


async def test_the_call_is_sent_once_and_the_answer_is_recorded_without_the_token(
    admin_service: AdminService,
) -> None:
    action = RunbookAction.model_validate(http_restart(admin_service.url, "x", undo=None))
    run = await run_http(action, Redactor(), environ={ADMIN_TOKEN_ENV: ADMIN_TOKEN})
    assert run.ok and run.http is not None and run.http.status_code == 200
    assert '"done": "restart"' in run.http.output and ADMIN_TOKEN not in run.http.output
    assert '"echo": "[REDACTED:header-secret]"' in run.http.output
    assert admin_service.healthy
    [request] = admin_service.requests
    assert request["authorized"] and request["segments"][3] == "shop"
    assert request["query"] == {"mode": ["normal"]}
    assert request["body"] == {"reason": "alert", "workers": 4, "mode": ["normal"]}


async def test_a_refused_connection_is_a_failed_call(admin_service: AdminService) -> None:
    from tests.support.processes import free_port

    action = RunbookAction.model_validate(
        http_restart(f"http://127.0.0.1:{free_port()}", "x", undo=None)
    )
    run = await run_http(action, Redactor(), environ={ADMIN_TOKEN_ENV: ADMIN_TOKEN})
    assert run.http is not None and run.http.status_code is None
    assert run.http.error is not None and run.http.error.startswith("ConnectError")
    assert run.failure.startswith("the HTTP call failed: ConnectError")


# --- the flow, served as a deployment so it can suspend for approval ---------------------


def flow_catalog(name: str, admin: AdminService, actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "services": [http_service(name, admin, actions)],
        "verification": {"attempts": 1, "interval_s": 0},
        "policy": {
            "critical": {
                "verify": True,
                "diagnose": False,
                "collect_logs": False,
                "propose_fix": False,
            }
        },
        "approval": {"approvers": ["alice"]},
        "tracker": {"kind": "local"},
    }


def assert_token_nowhere(runner: FixRunner, run_id: str, check: str) -> None:
    for text in (
        "\n".join(notes(runner, check)),
        report(runner, run_id),
        runner.logs(run_id),
        runner.log.read_text(errors="replace"),
    ):
        assert ADMIN_TOKEN not in text


async def test_approved_http_action_restores_health(
    fix_runner: FixRunner, admin_service: AdminService
) -> None:
    check = "runbook-http"
    actions = [http_restart(admin_service.url, check), http_rollback(admin_service.url)]
    fix_runner.write_catalog(flow_catalog(check, admin_service, actions))
    run_id = await submit(fix_runner, alert(check))
    fix_runner.wait_for(run_id, "Suspended")

    shown = form(fix_runner, run_id)
    request = f"POST {admin_service.url}/admin/services/shop/restart?mode=normal&force"
    for part in (request, f"Authorization: Bearer ${ADMIN_TOKEN_ENV}", '"workers": 4'):
        assert inline(part) in shown
    assert "sends the HTTP request shown" in shown and ADMIN_TOKEN not in shown
    assert admin_service.requests == []

    fix_runner.resume(run_id, {"decision": "approve", "approver": "alice"})
    run = fix_runner.wait_for(run_id, "Completed")

    assert [r["segments"][4] for r in admin_service.requests] == ["restart"]
    assert admin_service.requests[0]["authorized"]
    assert httpx.get(admin_service.health_url, trust_env=False).status_code == 200
    assert "action-status:succeeded" in run["tags"]
    result = notes(fix_runner, check)[-1]
    assert "Runbook action `restart`: succeeded." in result
    assert f"> {request}   # HTTP 200" in result and '"done": "restart"' in result
    assert "Runbook action `restart`: succeeded." in report(fix_runner, run_id)
    assert_token_nowhere(fix_runner, run_id, check)


async def test_failing_http_status_runs_the_undo(
    fix_runner: FixRunner, admin_service: AdminService
) -> None:
    check = "runbook-http-undo"
    admin_service.fail_restart = True
    actions = [
        http_restart(admin_service.url, check, risk="low", unattended=True),
        http_rollback(admin_service.url),
    ]
    fix_runner.write_catalog(flow_catalog(check, admin_service, actions))
    run_id = await submit(fix_runner, alert(check))
    run = fix_runner.wait_for(run_id, "Completed")

    assert [r["segments"][4] for r in admin_service.requests] == ["restart", "rollback"]
    assert "action-status:failed-undone" in run["tags"]
    result = notes(fix_runner, check)[-1]
    assert "Runbook action `restart`: failed-undone." in result
    assert "the HTTP call failed: HTTP 500 (expected 200)" in result
    assert "restart failed: worker pool exhausted" in result
    assert "Undo `rollback` output (redacted)" in result
    assert "Verification after the undo: healthy" in result
    assert_token_nowhere(fix_runner, run_id, check)
