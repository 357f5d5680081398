"""Tell people a fix waits for their approval, and that an approved fix could not be
published: a generic JSON webhook, or Slack's incoming webhook format. A channel that fails
is reported, never allowed to stop the run."""

from __future__ import annotations

import os
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from remediate.alerts import Alert
from remediate.approval.config import NotifyChannel
from remediate.approval.record import DecisionRecord
from remediate.fixer.models import FixProposal

EVENT = "remediate.approval-requested"
PUBLISH_FAILED = "remediate.publish-failed"


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: str
    ok: bool
    detail: str


def _alert_fields(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "check_id": alert.check_id,
        "service": alert.service,
        "severity": alert.severity.value,
    }


def webhook_payload(
    alert: Alert,
    proposal: FixProposal,
    run_id: str | None,
    run_url: str | None,
    issue_url: str | None,
) -> dict[str, Any]:
    return {
        "event": EVENT,
        "flow_run_id": run_id,
        "run_url": run_url,
        "issue_url": issue_url,
        "alert": _alert_fields(alert),
        "fix": {
            "summary": proposal.summary,
            "risk": proposal.risk.value,
            "files_changed": proposal.files_changed,
            "branch": proposal.branch,
        },
        "approve_command": f"remediate approve {run_id} --approver NAME [--reject]",
    }


def publish_failed_payload(
    alert: Alert,
    proposal: FixProposal,
    decision: DecisionRecord,
    cause: str,
    run_id: str,
    run_url: str | None,
    issue_url: str | None,
) -> dict[str, Any]:
    """An approved fix that did not reach its repository. ``cause`` must be redacted."""
    return {
        "event": PUBLISH_FAILED,
        "flow_run_id": run_id,
        "run_url": run_url,
        "issue_url": issue_url,
        "alert": _alert_fields(alert),
        "fix": {"summary": proposal.summary, "branch": proposal.branch},
        "decision": decision.model_dump(mode="json") | {"decided_at": decision.when},
        "cause": cause[:2000],
        "retry_command": f"remediate retry-publish {run_id}",
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_publish_failed(payload: dict[str, Any]) -> dict[str, Any]:
    alert, fix, decision = payload["alert"], payload["fix"], payload["decision"]
    link = f"<{payload['run_url']}|the run>" if payload["run_url"] else "the run"
    lines = [
        f"*Approved fix NOT published* for `{_slack_escape(alert['check_id'])}`"
        f" on {_slack_escape(alert['service'] or 'unknown service')} ({alert['severity']})",
        f"{_slack_escape(fix['summary'] or 'no summary')}"
        f" (approved by {_slack_escape(decision['approver'] or 'unknown')}"
        f" at {_slack_escape(str(decision['decided_at']))})",
        f"Cause: {_slack_escape(payload['cause'])}",
        f"{link} · retry without a new approval: `{_slack_escape(payload['retry_command'])}`",
    ]
    return {"text": "\n".join(lines)}


def slack_payload(payload: dict[str, Any]) -> dict[str, Any]:
    if payload["event"] == PUBLISH_FAILED:
        return _slack_publish_failed(payload)
    alert, fix = payload["alert"], payload["fix"]
    link = f"<{payload['run_url']}|review and decide>" if payload["run_url"] else "see the run"
    lines = [
        f"*Fix waiting for approval* for `{_slack_escape(alert['check_id'])}`"
        f" on {_slack_escape(alert['service'] or 'unknown service')} ({alert['severity']})",
        f"{_slack_escape(fix['summary'] or 'no summary')} (risk: {fix['risk']})",
        f"Files: {_slack_escape(', '.join(fix['files_changed']) or 'none')}",
        f"{link} · or `{_slack_escape(payload['approve_command'])}`",
    ]
    return {"text": "\n".join(lines)}


def _url(channel: NotifyChannel) -> str | None:
    if channel.url is not None:
        return str(channel.url)
    return os.environ.get(channel.url_env or "") or None


def control_payload(event: str, text: str, **fields: Any) -> dict[str, Any]:
    """A trust-control event (automation paused or resumed, a breaker tripped)."""
    return {"event": event, "text": text, **fields}


async def notify(
    channels: list[NotifyChannel], payload: dict[str, Any], slack_text: str | None = None
) -> list[Delivery]:
    """``slack_text``: what a Slack channel shows; by default the fix-approval message."""
    deliveries = []
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        for channel in channels:
            url = _url(channel)
            if url is None:
                deliveries.append(
                    Delivery(
                        channel=channel.label, ok=False, detail=f"{channel.url_env} is not set"
                    )
                )
                continue
            body = payload
            if channel.kind == "slack":
                body = {"text": _slack_escape(slack_text)} if slack_text else slack_payload(payload)
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as exc:
                deliveries.append(
                    Delivery(channel=channel.label, ok=False, detail=type(exc).__name__)
                )
                continue
            ok = 200 <= response.status_code < 300
            deliveries.append(
                Delivery(channel=channel.label, ok=ok, detail=f"HTTP {response.status_code}")
            )
    return deliveries
