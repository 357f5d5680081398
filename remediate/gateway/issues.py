"""Read-only pages of the local tracker's issues, so an issue link is an http link a browser
opens from the Prefect UI (which refuses ``file://`` links).

A page asks for the same credential as the stack's Prefect UI and API (HTTP Basic,
``PREFECT_API_AUTH_STRING``'s ``user:password``); without one configured the pages are off.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import FastAPI, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import SecretStr, ValidationError

from remediate.gateway.intake import Refused
from remediate.trackers.local import LocalTracker
from remediate.trackers.local_page import CONTENT_SECURITY_POLICY, issue_page

REALM = 'Basic realm="remediate issues", charset="UTF-8"'


def _presented(authorization: str | None) -> bytes | None:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def viewer_allowed(authorization: str | None, credential: SecretStr) -> bool:
    presented = _presented(authorization)
    expected = credential.get_secret_value().encode()
    return presented is not None and hmac.compare_digest(presented, expected)


def add_issue_pages(app: FastAPI, tracker: LocalTracker, credential: SecretStr | None) -> None:
    @app.get(
        "/issues/{number}",
        response_class=HTMLResponse,
        responses={
            401: {"description": "HTTP Basic credential missing or wrong"},
            404: {"description": "No such issue, or issue pages are off"},
        },
        summary="A local tracker issue, read-only (the Prefect UI's credential)",
    )
    async def issue(request: Request, number: int = Path(ge=1, le=10**9)) -> HTMLResponse:
        if credential is None:
            raise Refused(
                404,
                "issues_off",
                "issue pages are off: the gateway has no PREFECT_API_AUTH_STRING to check"
                " readers against",
            )
        if not viewer_allowed(request.headers.get("authorization"), credential):
            raise Refused(
                401, "issues_auth", "authentication failed", headers={"WWW-Authenticate": REALM}
            )
        try:
            found = tracker.get(number)
        except FileNotFoundError:
            raise Refused(404, "issue_missing", f"no issue #{number}") from None
        except ValidationError:
            raise Refused(500, "issue_unreadable", f"issue #{number} is not readable") from None
        return HTMLResponse(
            issue_page(found),
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )
