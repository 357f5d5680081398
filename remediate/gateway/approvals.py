"""Decisions from Slack's Approve / Reject buttons and from ``/approve`` / ``/reject``
comments on GitHub, arriving at the gateway. Both decide whatever the run waits for: a
fix, a runbook action, a rollback or a capacity action (``remediate/approval/waiting.py``).

``POST /v1/approvals/slack``: Slack's interaction callback, verified with the app's
signing secret and timestamp; the Slack user must be mapped to a listed approver in
``approval.slack_users``; the decision then goes through the one approval gate
(``remediate/approval/remote.py``) and the message is replaced with the decision, or the
presser alone is told why it was refused (the run keeps waiting, the refusal is in its
log). Slack is answered within ``slack_answer_within_s``; a slower decision finishes
after the answer.

``POST /v1/approvals/github``: GitHub's ``issue_comment``, ``pull_request_review`` and
``pull_request_review_comment`` webhooks, verified with the webhook secret; the commenter
must be mapped to a listed approver in ``approval.github_users`` and have write permission
on the repository (asked through GitHub's API with the tracker's token); the decision the
run waits for on that issue (or on the pull request it opened) resumes through the same
gate and a reply comment records the outcome. Each comment is claimed in the outbox
database before it is handled, so a redelivery, also after a restart, writes no second
reply."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from remediate.approval import github_comments, slack
from remediate.approval.attestation import DecisionSource
from remediate.approval.channel import GITHUB, SLACK
from remediate.approval.remote import Outcome, RemoteDecision, decide, record_refusal
from remediate.approval.waiting import WaitingDecision, waiting_decision
from remediate.catalog import Catalog, Service
from remediate.gateway.schemas import ErrorBody
from remediate.markdown import inline
from remediate.runs.api import PrefectAPIError
from remediate.runs.tags import Key, tag
from remediate.trackers.token import resolve_token

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
            return _error(401, "authentication failed" + (f": {exc.public}" if exc.public else ""))
        try:
            interaction = slack.parse(body)
        except slack.InteractionError as exc:
            gateway.metrics.rejected.labels("slack_payload").inc()
            return _error(422, str(exc))
        settling = asyncio.create_task(settle(interaction))
        gateway.background.add(settling)
        settling.add_done_callback(gateway.background.discard)
        try:
            await asyncio.wait_for(asyncio.shield(settling), config.slack_answer_within_s)
        except TimeoutError:
            log.info(
                "slack decision on run %s answered before it settled", interaction.request.run_id
            )
        return Response(status_code=200)

    async def settle(interaction: slack.Interaction) -> None:
        """Decide and tell the message's ``response_url``; may outlive the request."""
        key = config.decision_key
        assert key is not None
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
                return
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
            return
        if outcome.accepted:
            at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            await tell_slack(
                interaction.response_url, slack.decided_message(interaction, approver, at)
            )
        else:
            await tell_slack(interaction.response_url, slack.refused_message(outcome.message))


GITHUB_PATH = "/v1/approvals/github"
WRITE_PERMISSIONS = ("admin", "write")


class _GitHub:
    """The two GitHub calls a comment decision needs, with the tracker's token."""

    def __init__(self, service: Service, token: str) -> None:
        repository = service.repository
        assert repository is not None
        base = str(repository.api_base_url or "https://api.github.com").rstrip("/")
        self.repo = f"/repos/{repository.owner}/{repository.name}"
        self.client = httpx.AsyncClient(
            base_url=base,
            timeout=15,
            trust_env=False,
            headers={
                "Authorization": f"token {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )

    async def can_write(self, login: str) -> bool:
        answer = await self.client.get(f"{self.repo}/collaborators/{login}/permission")
        if answer.status_code != 200:
            return False
        return answer.json().get("permission") in WRITE_PERMISSIONS

    async def reply(self, issue: int, text: str) -> None:
        answer = await self.client.post(f"{self.repo}/issues/{issue}/comments", json={"body": text})
        if answer.status_code != 201:
            log.warning("reply on issue #%s: GitHub answered HTTP %s", issue, answer.status_code)


def _service_of(catalog: Catalog, full_name: str) -> Service | None:
    for service in catalog.services:
        repository = service.repository
        if repository and f"{repository.owner}/{repository.name}".lower() == full_name.lower():
            return service
    return None


async def _waiting_on(
    gateway: Gateway, service: Service, command: github_comments.Command
) -> WaitingDecision | None:
    """The decision a run of ``service`` waits for on the issue (or the pull request) the
    command was written on."""
    where = tag(Key.PULL if command.on_pull else Key.ISSUE, command.number)
    wanted = {where, tag(Key.SERVICE, service.name)}
    for run in await gateway.prefect.waiting_runs():
        if wanted <= set(run.get("tags") or []):
            waiting = waiting_decision(run)
            if waiting is not None:
                return waiting
    return None


def _reply_text(
    command: github_comments.Command, waiting: WaitingDecision, approver: str, outcome: Outcome
) -> str:
    if not outcome.accepted:
        return f"**Decision refused:** {inline(outcome.message, 500)}"
    verdict = "approved" if command.decision == "approve" else "rejected"
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"**Decision accepted:** {waiting.subject} {verdict} by {inline(approver, 100)} (GitHub"
        f" account `{inline(command.login, 60)}`, write permission checked) at {at}; the run"
        " resumes."
    )


def add_github_route(app: FastAPI, gateway: Gateway) -> None:
    config = gateway.config

    @app.post(
        GITHUB_PATH,
        status_code=202,
        response_class=Response,
        responses={
            202: {"description": "Handled; the outcome is a reply comment on the issue."},
            204: {"description": "Not a command (another event or comment): ignored."},
            401: {"model": ErrorBody, "description": "Missing or bad X-Hub-Signature-256."},
            413: {"model": ErrorBody, "description": "Body over the configured limit."},
            422: {"model": ErrorBody, "description": "Not a comment or review payload."},
            503: {"model": ErrorBody, "description": "GitHub approvals are not configured."},
        },
        summary=(
            "GitHub webhook: /approve or /reject in a comment on an incident issue or its"
            " pull request, or in a pull request review"
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "description": (
                                "GitHub's issue_comment, pull_request_review or"
                                " pull_request_review_comment event payload"
                            ),
                        }
                    }
                },
            }
        },
    )
    async def github_approval(request: Request) -> Response:
        secret, key = config.github_webhook_secret, config.decision_key
        if secret is None or key is None:
            missing = "GITHUB_WEBHOOK_SECRET" if secret is None else "DECISION_KEY"
            return _error(
                503, f"GitHub approvals are not configured: REMEDIATE_{missing} is not set"
            )
        body = await request.body()
        if len(body) > config.max_body_bytes:
            gateway.metrics.rejected.labels("body_too_large").inc()
            return _error(413, f"body over {config.max_body_bytes} bytes")
        try:
            github_comments.verify(
                secret.get_secret_value(),
                request.headers.get(github_comments.SIGNATURE_HEADER),
                body,
            )
        except github_comments.GitHubAuthError as exc:
            gateway.metrics.rejected.labels(f"github_{exc}").inc()
            return _error(401, "authentication failed")
        try:
            command = github_comments.parse(
                body, request.headers.get(github_comments.EVENT_HEADER, "")
            )
        except github_comments.CommentError as exc:
            gateway.metrics.rejected.labels("github_payload").inc()
            return _error(422, str(exc))
        if command is None:
            return Response(status_code=204)
        service = _service_of(gateway.catalog, command.repository)
        token = resolve_token(gateway.catalog.tracker)
        if service is None or token is None:
            log.warning("comment command on %s: no catalog service or no token", command.repository)
            return Response(status_code=202)
        # claimed in the outbox database: a redelivery, also after a restart, replies nothing
        handled = f"github:{command.repository.lower()}:{command.delivery}"
        if not await gateway.outbox.claim(handled, gateway.clock()):
            return Response(status_code=202)
        github = _GitHub(service, token.value.get_secret_value())
        try:
            await _decide_on_github(gateway, key.get_secret_value().encode(), github, command)
        except (PrefectAPIError, httpx.HTTPError) as exc:
            await gateway.outbox.release(handled)
            log.warning("comment decision on %s not delivered: %s", command.repository, exc)
            return _error(503, "the decision could not be delivered; redeliver the webhook")
        finally:
            await github.client.aclose()
        await gateway.outbox.finish(handled)
        return Response(status_code=202)


async def _decide_on_github(
    gateway: Gateway, signing_key: bytes, github: _GitHub, command: github_comments.Command
) -> None:
    service = _service_of(gateway.catalog, command.repository)
    assert service is not None
    who = inline(command.login, 60)
    waiting = await _waiting_on(gateway, service, command)
    approver = gateway.catalog.approval.approver_for("github_users", command.login)
    reason = ""
    if approver is None:
        reason = f"`{who}` is not mapped to a listed approver (approval.github_users)"
    elif not await github.can_write(command.login):
        reason = f"`{who}` has no write permission on {inline(command.repository, 200)}"
    if reason:
        gateway.metrics.rejected.labels("github_not_allowed").inc()
        if waiting is not None:
            await record_refusal(
                gateway.prefect, waiting.run_id, f"github decision refused: {reason}"
            )
        still = f"; the {waiting.subject} keeps waiting." if waiting else "."
        await github.reply(
            command.number, f"**Decision refused:** {reason}. Nothing was decided{still}"
        )
        return
    assert approver is not None
    if waiting is None:
        log.info("comment command on #%s: no decision waits there", command.number)
        return
    outcome = await decide(
        gateway.prefect,
        signing_key,
        RemoteDecision(
            run_id=waiting.run_id,
            base_key=waiting.base_key,
            decision=command.decision,
            approver=approver,
            comment=command.reason or f"decided on GitHub by {command.login}",
            diff_prefix=command.diff_prefix,
            source=DecisionSource(channel=GITHUB, identity=command.login),
        ),
    )
    await github.reply(command.number, _reply_text(command, waiting, approver, outcome))
