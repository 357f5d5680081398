"""Announcing a fix that waits for approval: generic webhook and Slack format, real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from remediate.alerts import Alert, Severity
from remediate.approval.config import NotifyChannel
from remediate.approval.form import FixApproval
from remediate.approval.notify import (
    EVENT,
    PUBLISH_FAILED,
    notify,
    publish_failed_payload,
    webhook_payload,
)
from remediate.approval.record import decided, timed_out
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


DECISION = decided(
    FixApproval(decision="approve", approver="alice", diff_sha256="0" * 64),
    datetime(2026, 11, 29, 12, 0, 3, 250000, tzinfo=UTC),
)


async def test_a_publish_failure_names_cause_retry_and_run_escaped(
    webhook_sink: WebhookSink,
) -> None:
    failed = publish_failed_payload(
        ALERT,
        PROPOSAL,
        DECISION,
        "push refused: <b>remote</b> & hook said <!channel>",
        "run-1",
        "http://ui/v2/runs/flow-run/run-1",
        "http://tracker/issues/1",
    )
    channels = [
        NotifyChannel(kind="webhook", url=webhook_sink.url("/hook")),
        NotifyChannel(kind="slack", url=webhook_sink.url("/slack")),
    ]
    assert [d.ok for d in await notify(channels, failed)] == [True, True]
    [hook] = webhook_sink.bodies("/hook")
    assert (
        hook["event"] == PUBLISH_FAILED and hook["retry_command"] == "remediate retry-publish run-1"
    )
    assert hook["decision"]["approver"] == "alice"
    assert hook["decision"]["decided_at"] == "2026-11-29T12:00:03Z"
    [slack] = webhook_sink.bodies("/slack")
    text = slack["text"]
    assert "*Approved fix NOT published*" in text
    assert "approved by alice at 2026-11-29T12:00:03Z" in text
    assert "&lt;b&gt;remote&lt;/b&gt; &amp; hook said &lt;!channel&gt;" in text
    assert "<!channel>" not in text
    assert "<http://ui/v2/runs/flow-run/run-1|the run>" in text
    assert "`remediate retry-publish run-1`" in text


def test_the_record_says_who_how_and_when_in_utc() -> None:
    record = DECISION.model_copy(
        update={"decided_at": datetime(2026, 11, 29, 13, 0, 3, tzinfo=timezone(timedelta(hours=1)))}
    )
    assert record.when == "2026-11-29T12:00:03Z"
    assert record.line() == "approved by alice via `prefect-api` at 2026-11-29T12:00:03Z"
    assert record.markdown("Fix").startswith("**Fix approved** by alice via `prefect-api` at")
    hostile = decided(
        FixApproval(
            decision="reject",
            approver="@bob <img>",
            comment="[x](http://e.vil)",
            diff_sha256="0" * 64,
        ),
        record.decided_at,
    )
    text = hostile.markdown()
    assert text.startswith("**Decision:** rejected by ") and "<img>" not in text
    assert "@bob" not in text and "](http://" not in text
    late = timed_out(record.decided_at)
    assert late.markdown("Fix").startswith(
        "**Fix timed out** at 2026-11-29T12:00:03Z: no decision came, so it counts as rejected."
    )
    assert "Channel: `approval-timeout`" in late.markdown()
