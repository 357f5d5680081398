"""Run an HTTP runbook action: one request, its status checked, its answer redacted.

The URL and body come from ``RunbookAction.url`` and ``RunbookAction.body`` (catalog
values and validated parameters). Header secrets are read from the environment at the
last moment and hidden from everything recorded, including the service's answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import httpx

from remediate.actions.config import RunbookAction
from remediate.actions.http_config import HttpSecretMissing
from remediate.actions.models import ActionRun, HttpCallRun
from remediate.actions.output import OUTPUT_LIMIT, shape_output
from remediate.redaction import Redactor

READ_LIMIT = 16 * OUTPUT_LIMIT


def shown_body(action: RunbookAction) -> str | None:
    body = action.body()
    return None if body is None else json.dumps(body, sort_keys=True)


async def _read_bounded(response: httpx.Response) -> bytes:
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= READ_LIMIT:
            return data[:READ_LIMIT]
    return data


async def run_http(
    action: RunbookAction, redactor: Redactor, environ: Mapping[str, str] | None = None
) -> ActionRun:
    """Validates the parameters again, then sends the request once (never retried)."""
    call = action.http
    if call is None:
        raise ValueError(f"action {action.name} is a command, not an HTTP call")
    url, body = action.url(), action.body()
    shown = redactor(f"{call.method} {url}")

    def result(status: int | None = None, output: str = "", error: str | None = None) -> ActionRun:
        run = HttpCallRun(
            request=shown,
            expected_status=call.expected_status,
            status_code=status,
            output=output,
            error=error,
        )
        return ActionRun(action=action.name, http=run)

    try:
        resolved = [(h.name, *h.resolve(environ)) for h in call.headers]
    except HttpSecretMissing as exc:
        return result(error=str(exc))
    redact = redactor.with_literals("header-secret", [s for _, _, s in resolved if s])
    headers = {name: value for name, value, _ in resolved}
    try:
        async with (
            asyncio.timeout(action.timeout_s),
            httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=action.timeout_s
            ) as client,
            client.stream(call.method, url, headers=headers, json=body) as response,
        ):
            raw = await _read_bounded(response)
    except (TimeoutError, httpx.TimeoutException):
        return result(error=f"no answer within {action.timeout_s:g} s")
    except httpx.HTTPError as exc:
        return result(error=redact(f"{type(exc).__name__}: {exc}"[:300]))
    return result(response.status_code, shape_output(raw, redact))
