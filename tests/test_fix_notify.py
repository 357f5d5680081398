"""Announcing a fix that waits for approval: generic webhook and Slack format, real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from remediate.alerts import Alert, Severity
from remediate.approval.config import NotifyChannel
from remediate.approval.notify import EVENT, notify, webhook_payload
from remediate.fixer.models import FixProposal, FixStatus, Risk
from tests.support.processes import free_port
from tests.support.webhook_sink import WebhookSink

ALERT = Alert(
    id="a-1",
    source="test",
    check_id="demo-health",
    service="demo",
    severity=Severity.CRITICAL,
    summary="down",
    fired_at=datetime(2026, 1, 1, tzinfo=UTC),
)
PROPOSAL = FixProposal(
    status=FixStatus.PROPOSED,
    summary="raise <the> timeout",
    risk=Risk.LOW,
    files_changed=["app.py"],
    branch="remediate/a-1",
)


def payload() -> dict[str, object]:
    return webhook_payload(ALERT, PROPOSAL, "run-1", "http://ui/runs/flow-run/run-1", None)


async def test_webhook_and_slack_deliveries(
    webhook_sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMEDIATE_TEST_SLACK_URL", webhook_sink.url("/slack"))
    channels = [
        NotifyChannel(kind="webhook", url=webhook_sink.url("/hook")),
        NotifyChannel(kind="slack", url_env="REMEDIATE_TEST_SLACK_URL"),
    ]
    deliveries = await notify(channels, payload())
    assert [d.ok for d in deliveries] == [True, True]
    [hook] = webhook_sink.bodies("/hook")
    assert hook["event"] == EVENT and hook["flow_run_id"] == "run-1"
    assert hook["fix"]["files_changed"] == ["app.py"]
    [slack] = webhook_sink.bodies("/slack")
    assert "raise &lt;the&gt; timeout" in slack["text"]
    assert "<http://ui/runs/flow-run/run-1|review and decide>" in slack["text"]
    assert "remediate approve run-1" in slack["text"]
    assert deliveries[1].channel == "slack (REMEDIATE_TEST_SLACK_URL)"


async def test_failures_are_reported_not_raised(
    webhook_sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REMEDIATE_TEST_UNSET_URL", raising=False)
    webhook_sink.status = 500
    channels = [
        NotifyChannel(kind="webhook", url_env="REMEDIATE_TEST_UNSET_URL"),
        NotifyChannel(kind="webhook", url=f"http://127.0.0.1:{free_port()}/x"),
        NotifyChannel(kind="slack", url=webhook_sink.url("/slack")),
    ]
    deliveries = await notify(channels, payload())
    assert [(d.ok, d.detail) for d in deliveries] == [
        (False, "REMEDIATE_TEST_UNSET_URL is not set"),
        (False, "ConnectError"),
        (False, "HTTP 500"),
    ]


def test_a_channel_needs_exactly_one_url_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of url or url_env"):
        NotifyChannel(kind="webhook")
    with pytest.raises(ValidationError, match="exactly one of url or url_env"):
        NotifyChannel(kind="slack", url="http://127.0.0.1/x", url_env="X")
