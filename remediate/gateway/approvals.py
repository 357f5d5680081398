"""Decisions from Slack's Approve / Reject buttons, arriving at the gateway.

``POST /v1/approvals/slack``: Slack's interaction callback, verified with the app's
signing secret and timestamp; the Slack user must be mapped to a listed approver in
``approval.slack_users``; the decision then goes through the one approval gate
(``remediate/approval/remote.py``) and the message is replaced with the decision, or the
presser alone is told why it was refused (the run keeps waiting, the refusal is in its
log)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from remediate.approval import slack
from remediate.approval.attestation import DecisionSource
from remediate.approval.channel import SLACK
from remediate.approval.remote import RemoteDecision, decide, record_refusal
from remediate.gateway.schemas import ErrorBody
from remediate.runs.api import PrefectAPIError

if TYPE_CHECKING:
    from remediate.gateway.app import Gateway

log = logging.getLogger("remediate.gateway.approvals")

SLACK_PATH = "/v1/approvals/slack"


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse(ErrorBody(detail=detail).model_dump(), status_code=status)


def add_approval_routes(app: FastAPI, gateway: Gateway) -> None:
    config = gateway.config

    async def tell_slack(url: str, message: dict[str, object]) -> None:
        if not url.startswith(config.slack_response_url_prefix):
            log.warning("slack response_url outside %s: not used", config.slack_response_url_prefix)
            return
        try:
            async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
                answer = await client.post(url, json=message)
            if answer.status_code != 200:
                log.warning("slack response_url answered HTTP %s", answer.status_code)
        except httpx.HTTPError as exc:
            log.warning("slack response_url unreachable: %s", type(exc).__name__)

    @app.post(
        SLACK_PATH,
        status_code=200,
        response_class=Response,
        responses={
            200: {"description": "Handled; the outcome is posted to the message's response_url."},
            401: {"model": ErrorBody, "description": "Missing, bad or stale Slack signature."},
            413: {"model": ErrorBody, "description": "Body over the configured limit."},
            422: {"model": ErrorBody, "description": "Not a remediate button callback."},
            503: {"model": ErrorBody, "description": "Slack approvals are not configured."},
        },
        summary="Slack interaction callback for the Approve / Reject buttons",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["payload"],
                            "properties": {
                                "payload": {
                                    "type": "string",
                                    "description": "Slack's block_actions payload, JSON",
                                }
                            },
                        }
                    }
                },
            }
        },
    )
    async def slack_approval(request: Request) -> Response:
        secret, key = config.slack_signing_secret, config.decision_key
        if secret is None or key is None:
            missing = (
                "REMEDIATE_SLACK_SIGNING_SECRET" if secret is None else "REMEDIATE_DECISION_KEY"
            )
            return _error(503, f"Slack approvals are not configured: {missing} is not set")
        body = await request.body()
        if len(body) > config.max_body_bytes:
            gateway.metrics.rejected.labels("body_too_large").inc()
            return _error(413, f"body over {config.max_body_bytes} bytes")
        try:
            slack.verify(
                secret.get_secret_value(),
                request.headers.get(slack.TIMESTAMP_HEADER),
                request.headers.get(slack.SIGNATURE_HEADER),
                body,
                gateway.clock(),
            )
        except slack.SlackAuthError as exc:
            gateway.metrics.rejected.labels(f"slack_{exc}").inc()
            log.warning("slack callback refused: %s", exc)
            return _error(401, "authentication failed")
        try:
            interaction = slack.parse(body)
        except slack.InteractionError as exc:
            gateway.metrics.rejected.labels("slack_payload").inc()
            return _error(422, str(exc))
        run_id = interaction.request.run_id
        approver = gateway.catalog.approval.approver_for("slack_users", interaction.user_id)
        try:
            if approver is None:
                gateway.metrics.rejected.labels("slack_unlisted").inc()
                reason = (
                    f"Slack user {interaction.user_id} is not mapped to a listed approver"
                    " (approval.slack_users); the run keeps waiting"
                )
                await record_refusal(gateway.prefect, run_id, f"slack decision refused: {reason}")
                await tell_slack(interaction.response_url, slack.refused_message(reason))
                return Response(status_code=200)
            outcome = await decide(
                gateway.prefect,
                key.get_secret_value().encode(),
                RemoteDecision(
                    run_id=run_id,
                    base_key=interaction.request.key,
                    decision=interaction.decision,
                    approver=approver,
                    comment=f"decided in Slack by {interaction.user_id}",
                    diff_sha256=interaction.request.diff_sha256,
                    source=DecisionSource(channel=SLACK, identity=interaction.user_id),
                ),
            )
        except PrefectAPIError as exc:
            log.warning("slack decision on run %s not delivered: %s", run_id, exc)
            await tell_slack(
                interaction.response_url,
                slack.refused_message("the Prefect API could not be reached; try again"),
            )
            return Response(status_code=200)
        if outcome.accepted:
            at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            await tell_slack(
                interaction.response_url, slack.decided_message(interaction, approver, at)
            )
        else:
            await tell_slack(interaction.response_url, slack.refused_message(outcome.message))
        return Response(status_code=200)
