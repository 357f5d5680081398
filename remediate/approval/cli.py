"""``remediate approve RUN_ID [--approver NAME] [--reject] [--comment TEXT] [--diff-sha256 H]
[--hypothesis right|wrong [--hypothesis-reason TEXT]]``.

Resumes a run waiting for approval through Prefect's REST API, with the API credential
(``PREFECT_API_AUTH_STRING``). The approver defaults to the operating-system user. The
server validates the input against the run's form (the approver must be on the catalog's
list) and answers HTTP 200 with status REJECT when it refuses, so the answer's status
decides the exit code. A busy server answering 503 (nothing was changed) is asked again a
few times.

Approving a fix needs ``--diff-sha256``, the hash of the diff you reviewed (shown in the
form's description): the run pushes only that diff. A rejection needs no hash.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from typing import Any

import httpx

from remediate.runs.auth import UNAUTHORIZED_HINT, APIAuthError, auth_headers, auth_string

RETRY_DELAYS = (1.0, 2.0, 4.0, 0.0)


def _api_url(given: str | None) -> str:
    url = given or os.environ.get("PREFECT_API_URL") or "http://127.0.0.1:4200/api"
    return url.rstrip("/")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _form_schema(client: httpx.Client, run_id: str, state: dict[str, Any]) -> dict[str, Any]:
    keyset = (state.get("state_details") or {}).get("run_input_keyset") or {}
    key = keyset.get("schema")
    if not isinstance(key, str):
        return {}
    answer = client.get(f"/flow_runs/{run_id}/input/{key}")
    if answer.status_code != 200:
        return {}
    value = answer.json()
    schema = json.loads(value) if isinstance(value, str) else value
    return schema if isinstance(schema, dict) else {}


def resume(
    api_url: str,
    run_id: str,
    approved: bool,
    approver: str,
    comment: str,
    credential: str | None = None,
    diff_sha256: str | None = None,
    hypothesis: str | None = None,
    hypothesis_reason: str = "",
) -> tuple[bool, str]:
    """(accepted, explanation). ``credential`` defaults to ``PREFECT_API_AUTH_STRING``."""
    headers = auth_headers(credential or auth_string())
    with httpx.Client(base_url=api_url, timeout=30, trust_env=False, headers=headers) as client:
        run = client.get(f"/flow_runs/{run_id}")
        if run.status_code == 401:
            return False, UNAUTHORIZED_HINT
        if run.status_code == 404:
            return False, f"no flow run {run_id}"
        run.raise_for_status()
        state: dict[str, Any] = run.json().get("state") or {}
        if state.get("type") != "PAUSED":
            return False, f"run {run_id} is not waiting for approval (state {state.get('name')})"
        run_input: dict[str, Any] = {
            "decision": "approve" if approved else "reject",
            "approver": approver,
            "comment": comment,
        }
        if hypothesis is not None:
            run_input |= {"hypothesis": hypothesis, "hypothesis_reason": hypothesis_reason}
        field = _form_schema(client, run_id, state).get("properties", {}).get("diff_sha256")
        if diff_sha256 is not None:
            run_input["diff_sha256"] = diff_sha256
        elif isinstance(field, dict) and approved:
            return False, (
                "this run asks which diff you approve: pass --diff-sha256 with the sha256"
                " shown in the form's description (the diff you reviewed)"
            )
        elif isinstance(field, dict):
            run_input["diff_sha256"] = field.get("default")
        for delay in RETRY_DELAYS:
            answer = client.post(f"/flow_runs/{run_id}/resume", json={"run_input": run_input})
            if answer.status_code != 503:
                break
            time.sleep(delay)
        if answer.status_code == 401:
            return False, UNAUTHORIZED_HINT
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
    status = str(body.get("status", "")).upper()
    reason = str((body.get("details") or {}).get("reason") or "")
    if status == "ACCEPT":
        verdict = "approved" if approved else "rejected"
        return True, f"run {run_id} resumed: {verdict} by {approver}"
    return False, f"the server refused the decision ({status}): {reason or 'no reason given'}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", help="the flow run waiting for approval")
    parser.add_argument(
        "--approver",
        default=None,
        help="your name, as listed in the catalog (default: your operating-system user)",
    )
    parser.add_argument("--reject", action="store_true", help="reject instead of approving")
    parser.add_argument("--comment", default="", help="why (shown on the issue)")
    parser.add_argument(
        "--diff-sha256", default=None, help="sha256 of the fix diff you approve (from the form)"
    )
    parser.add_argument(
        "--hypothesis",
        choices=["right", "wrong"],
        default=None,
        help="your judgement of the investigation's leading hypothesis (shown in the form)",
    )
    parser.add_argument(
        "--hypothesis-reason", default="", help="why the hypothesis was right or wrong"
    )
    parser.add_argument("--api-url", default=None, help="Prefect API (default PREFECT_API_URL)")


def run(args: argparse.Namespace, credential: str | None = None) -> int:
    approver = args.approver or os_user()
    if not approver:
        print("remediate approve: no operating-system user name; pass --approver", file=sys.stderr)
        return 2
    try:
        accepted, message = resume(
            _api_url(args.api_url),
            args.run_id,
            not args.reject,
            approver,
            args.comment,
            credential=credential,
            diff_sha256=args.diff_sha256,
            hypothesis=args.hypothesis,
            hypothesis_reason=args.hypothesis_reason,
        )
    except APIAuthError as exc:
        print(f"remediate approve: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:
        print(f"remediate approve: Prefect API error: {exc}", file=sys.stderr)
        return 2
    print(message, file=sys.stdout if accepted else sys.stderr)
    return 0 if accepted else 1


def approve_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="remediate approve", description="Approve or reject a proposed fix."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
