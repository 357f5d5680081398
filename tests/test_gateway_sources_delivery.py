"""Each product's trigger and resolution through the real gateway and a real Prefect server:
one run per incident however often it is delivered, named for people, resolved by the
product's own resolution event."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediate.alerts import Alert
from remediate.runs.names import run_name
from remediate.trackers import IssueDraft, LocalTracker
from tests.support.gateway import (
    DATADOG_TOKEN,
    OPSGENIE_TOKEN,
    RunningGateway,
    bearer,
    config,
    pagerduty_headers,
    payload,
    running_gateway,
    runs_with_tag,
    sentry_headers,
)

Send = Callable[[RunningGateway, dict[str, Any]], Awaitable[httpx.Response]]


def copy(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(body))  # type: ignore[no-any-return]


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


async def to_pagerduty(gw: RunningGateway, body: dict[str, Any]) -> httpx.Response:
    data = raw(body)
    headers = pagerduty_headers(data) | {"X-Webhook-Id": body["event"]["id"]}
    return await gw.client.post("/v1/alerts/pagerduty", content=data, headers=headers)


def sentry_sender(resources: list[str]) -> Send:
    async def send(gw: RunningGateway, body: dict[str, Any]) -> httpx.Response:
        data = raw(body)
        headers = sentry_headers(data, resources.pop(0))
        return await gw.client.post("/v1/alerts/sentry", content=data, headers=headers)

    return send


def token_sender(path: str, token: str) -> Send:
    async def send(gw: RunningGateway, body: dict[str, Any]) -> httpx.Response:
        return await gw.client.post(path, json=body, headers=bearer(token))

    return send


def pagerduty_pair() -> tuple[Send, dict[str, Any], dict[str, Any]]:
    firing = payload("pagerduty_triggered.json")
    firing["event"]["id"] = str(uuid.uuid4())
    firing["event"]["data"]["id"] = f"Q{uuid.uuid4().hex[:12].upper()}"
    resolved = copy(firing)
    resolved["event"] |= {"id": str(uuid.uuid4()), "event_type": "incident.resolved"}
    resolved["event"]["data"]["status"] = "resolved"
    return to_pagerduty, firing, resolved


def sentry_issue_pair() -> tuple[Send, dict[str, Any], dict[str, Any]]:
    firing = payload("sentry_issue_alert.json")
    issue = str(uuid.uuid4().int)[:12]
    firing["data"]["event"] |= {"issue_id": issue, "event_id": uuid.uuid4().hex}
    resolved = {
        "action": "resolved",
        "data": {
            "issue": {
                "id": issue,
                "title": firing["data"]["event"]["title"],
                "level": "error",
                "status": "resolved",
                "lastSeen": "2026-11-27T14:20:00Z",
            }
        },
    }
    return sentry_sender(["event_alert", "event_alert", "issue", "issue"]), firing, resolved


def sentry_metric_pair() -> tuple[Send, dict[str, Any], dict[str, Any]]:
    firing = payload("sentry_metric_alert.json")
    firing["data"]["metric_alert"]["id"] = str(uuid.uuid4().int)[:12]
    resolved = copy(firing)
    resolved["action"] = "resolved"
    resolved["data"]["metric_alert"]["date_closed"] = "2026-11-27T14:30:00Z"
    return sentry_sender(["metric_alert"] * 4), firing, resolved


def datadog_pair() -> tuple[Send, dict[str, Any], dict[str, Any]]:
    firing = payload("datadog.json")
    firing |= {"id": str(uuid.uuid4().int)[:19], "cycle_key": str(uuid.uuid4().int)[:19]}
    resolved = firing | {
        "id": str(uuid.uuid4().int)[:19],
        "transition": "Recovered",
        "alert_type": "success",
        "title": "[Recovered on {host:web-1}] [P2] Disk almost full",
        "date": "1795790469000",
    }
    return token_sender("/v1/alerts/datadog", DATADOG_TOKEN), firing, resolved


def opsgenie_pair() -> tuple[Send, dict[str, Any], dict[str, Any]]:
    firing = payload("opsgenie_create.json")
    firing["alert"] |= {"alertId": str(uuid.uuid4()), "alias": f"orders backlog {uuid.uuid4()}"}
    resolved = copy(firing) | {"action": "Close"}
    return token_sender("/v1/alerts/opsgenie", OPSGENIE_TOKEN), firing, resolved


def open_issue_as_the_run_does(tracker: LocalTracker, alert: Alert) -> int:
    draft = IssueDraft(
        fingerprint=alert.fingerprint,
        occurrence_key=alert.occurrence_key,
        title=alert.check_id,
        body="The incident report.",
        comment="Fired again.",
    )
    return tracker.open_or_update(draft, datetime.now(UTC)).number


async def eventually(fetch: Any, done: Any, timeout: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached; last value: {value!r}"[:2000])
        await asyncio.sleep(0.2)


@pytest.mark.parametrize(
    "pair",
    [pagerduty_pair, sentry_issue_pair, sentry_metric_pair, datadog_pair, opsgenie_pair],
    ids=["pagerduty", "sentry-issue", "sentry-metric", "datadog", "opsgenie"],
)
async def test_trigger_retried_starts_one_run_and_its_resolution_resolves_it(
    tmp_path: Path,
    prefect_server: str,
    gateway_deployment: str,
    pair: Callable[[], tuple[Send, dict[str, Any], dict[str, Any]]],
) -> None:
    send, firing, resolved = pair()
    tracker = LocalTracker(tmp_path / "issues")
    async with running_gateway(config(tmp_path, prefect_server)) as gw:
        first, retry = [await send(gw, firing) for _ in range(2)]
        assert (first.status_code, first.json()["accepted"]) == (202, 1)
        assert (retry.status_code, retry.json()["duplicates"]) == (202, 1)
        fingerprint = first.json()["alerts"][0]["fingerprint"]
        tag = f"fingerprint:{fingerprint}"
        await gw.drained()
        [run] = await eventually(lambda: runs_with_tag(prefect_server, tag), lambda r: len(r) == 1)
        alert = Alert.model_validate(run["parameters"]["alert"])
        assert run["name"] == run_name(alert)
        assert run["idempotency_key"] == alert.occurrence_key
        assert f"check:{alert.check_id}" in run["tags"]
        number = open_issue_as_the_run_does(tracker, alert)
        for _ in range(2):
            response = await send(gw, resolved)
            assert response.status_code == 202
            assert response.json()["alerts"][0]["fingerprint"] == fingerprint
        counts = await gw.drained()
        assert counts == counts | {"delivered": 1, "resolved": 1, "pending": 0, "failed": 0}
        await eventually(gw.gateway.outbox.note_counts, lambda c: c == {"posted": 1})
    [comment] = [c.body for c in tracker.get(number).comments if c.body.startswith("Resolved at")]
    assert f" by {alert.source} (alert " in comment
    runs = await eventually(
        lambda: runs_with_tag(prefect_server, tag),
        lambda r: len(r) == 1 and "alert-resolved" in r[0]["tags"],
    )
    assert runs[0]["id"] == run["id"]
    assert runs[0]["parameters"]["alert"]["status"] == "firing"


def run_log(prefect_server: str, run_id: str) -> list[str]:
    response = httpx.post(
        f"{prefect_server}/logs/filter",
        json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200},
        trust_env=False,
    )
    response.raise_for_status()
    return [entry["message"] for entry in response.json()]


async def test_pagerduty_acknowledgement_is_written_to_the_run_and_issue_once(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    send, firing, _ = pagerduty_pair()
    acknowledged = copy(firing)
    acknowledged["event"] |= {
        "id": str(uuid.uuid4()),
        "event_type": "incident.acknowledged",
        "occurred_at": "2026-11-27T14:21:05.000Z",
    }
    acknowledged["event"]["data"]["status"] = "acknowledged"
    tracker = LocalTracker(tmp_path / "issues")
    settings = config(tmp_path, prefect_server)
    async with running_gateway(settings) as gw:
        early = await send(gw, acknowledged)
        assert early.status_code == 200
        assert early.json()["ignored"].endswith(
            "no run was started for this incident, nothing recorded"
        )
        assert (await send(gw, firing)).status_code == 202
        await gw.drained()
        tag = f"fingerprint:{firing['event']['data']['id']}"
        [run] = await eventually(lambda: runs_with_tag(prefect_server, tag), lambda r: len(r) == 1)
        number = open_issue_as_the_run_does(
            tracker, Alert.model_validate(run["parameters"]["alert"])
        )
        first, again = [await send(gw, acknowledged) for _ in range(2)]
        assert first.json()["ignored"].endswith(f"recorded on run {run['id']} and its issue")
        assert again.json()["ignored"].endswith(f"already recorded on run {run['id']}")
        await eventually(gw.gateway.outbox.note_counts, lambda c: c == {"posted": 1})
    async with running_gateway(settings) as gw:  # a restarted gateway remembers it
        after_restart = await send(gw, acknowledged)
        assert after_restart.json()["ignored"].endswith(f"already recorded on run {run['id']}")
    line = (
        "Acknowledged in pagerduty by Tenex Engineer at 2026-11-27 14:21:05 UTC"
        f" (event {acknowledged['event']['id']})."
    )
    assert [c.body for c in tracker.get(number).comments if c.body.startswith("Acknowledged")] == [
        line
    ]
    assert [m for m in run_log(prefect_server, run["id"]) if m.startswith("Acknowledged")] == [line]
