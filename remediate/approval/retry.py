"""``remediate retry-publish RUN_ID``: run publication again for a run whose approved fix
could not be published.

The run is set back to Scheduled (what the Prefect UI's Retry does). It re-runs from the
top: every step before the gate returns its cached result (no new model session), the
approval kept on the run is reused when it still names a listed approver and the diff the
run holds (no second approval of the same diff), and the push checks the approved hash
again. Only a Failed run tagged ``publish:failed`` is retried.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import Any

import httpx

from remediate.runs.auth import UNAUTHORIZED_HINT, APIAuthError, auth_headers, auth_string
from remediate.runs.tags import Key, Publish, tag

RETRY_DELAYS = (1.0, 2.0, 4.0, 0.0)
RETRY_STATE = "AwaitingRetry"
RETRY_MARK = "(remediate retry-publish)"
"""Ends the message of the state a retry sets, so a run can count its publication attempts."""


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"


def retry_publish(api_url: str, run_id: str, credential: str | None = None) -> tuple[bool, str]:
    """(accepted, explanation). ``credential`` defaults to ``PREFECT_API_AUTH_STRING``."""
    headers = auth_headers(credential or auth_string())
    with httpx.Client(base_url=api_url, timeout=30, trust_env=False, headers=headers) as client:
        run = client.get(f"/flow_runs/{run_id}")
        if run.status_code == 401:
            return False, UNAUTHORIZED_HINT
        if run.status_code in (404, 422):
            return False, f"no flow run {run_id}"
        run.raise_for_status()
        found: dict[str, Any] = run.json()
        state = found.get("state") or {}
        if state.get("type") != "FAILED" or tag(Key.PUBLISH, Publish.FAILED) not in found.get(
            "tags", []
        ):
            return False, (
                f"run {run_id} is not a failed publication of an approved fix"
                f" (state {state.get('name')}); nothing to retry"
            )
        new_state = {
            "type": "SCHEDULED",
            "name": RETRY_STATE,
            "message": f"publication retried by {_who()} {RETRY_MARK}",
        }
        for delay in RETRY_DELAYS:
            answer = client.post(
                f"/flow_runs/{run_id}/set_state", json={"state": new_state, "force": True}
            )
            if answer.status_code != 503:
                break
            time.sleep(delay)
        if answer.status_code == 401:
            return False, UNAUTHORIZED_HINT
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
    if str(body.get("status", "")).upper() == "ACCEPT":
        return True, f"run {run_id} scheduled again: it publishes the approved fix once more"
    reason = (body.get("details") or {}).get("reason") or "no reason given"
    return False, f"the server refused to reschedule run {run_id}: {reason}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", help="the failed run whose approved fix was not published")
    parser.add_argument("--api-url", default=None, help="Prefect API (default PREFECT_API_URL)")


def run(api_url: str, run_id: str, credential: str | None = None) -> int:
    try:
        accepted, message = retry_publish(api_url.rstrip("/"), run_id, credential)
    except APIAuthError as exc:
        print(f"remediate retry-publish: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"remediate retry-publish: Prefect API error: {exc}", file=sys.stderr)
        return 2
    print(message, file=sys.stdout if accepted else sys.stderr)
    return 0 if accepted else 1
