"""Time from the gateway's acknowledgement of a signed alert to its issue on disk, warm vs cold.

Needs the local stack with a per-minute cap above the alert count:
    REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE=600 make up
Usage: .venv/bin/python bench/alert_to_issue.py [--alerts 20] [--modes warm,cold]

On the scale profile (`remediate up --profile scale`) alerts also alternate between the
gateways listed in stack.json. Alerts alternate between modes. "cold" sets the
remediate-alert deployment's job command to a plain `python -m prefect.engine` for that
alert (its other job variables kept, restored afterwards); "warm" uses the pool's default,
the warm launcher. Prints the machine's load average before and after, since the figures
depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediate.devstack.stack import StackConfig, read_secrets, read_state  # noqa: E402
from remediate.devstack.workers import job_command  # noqa: E402
from remediate.gateway.auth import SIGNATURE_HEADER, sign  # noqa: E402
from remediate.runs.auth import CLIENT_AUTH_ENV, auth_headers  # noqa: E402

DEPLOYMENT = "remediate-alert/remediate-alert"


def issue_for(issues_dir: Path, check_id: str) -> bool:
    for path in issues_dir.glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written
        if f"check:{check_id}" in record["labels"]:
            return True
    return False


def set_mode(api: httpx.Client, deployment_id: str, declared: dict[str, Any], mode: str) -> None:
    """The deployment's declared job variables, plus a cold engine as command for "cold"."""
    variables = dict(declared)
    if mode == "cold":
        variables["command"] = job_command(False)
    for delay in (0.2, 0.5, 1, 2, 4, 8):  # the stack's SQLite server answers 503 while locked
        answer = api.patch(f"/deployments/{deployment_id}", json={"job_variables": variables})
        if answer.status_code != 503:
            break
        time.sleep(delay)
    answer.raise_for_status()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def summary(mode: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"{mode}: alerts={len(ordered)} median={statistics.median(ordered):.2f}s "
        f"p95={p95:.2f}s min={ordered[0]:.2f}s max={ordered[-1]:.2f}s"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=20, help="per mode")
    parser.add_argument("--modes", default="warm,cold")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= {"warm", "cold"}:
        print("--modes takes warm and/or cold", file=sys.stderr)
        return 2
    config = StackConfig.from_env()
    state = read_state(config.data_dir)
    if state is None or state.gateway_url is None:
        print("no local stack: run `make up` first", file=sys.stderr)
        return 1
    stored = read_secrets(config.secrets_file)
    secret = stored["REMEDIATE_HMAC_SECRETS"].split(",")[0]
    api = httpx.Client(
        base_url=state.prefect_api_url,
        headers=auth_headers(stored[CLIENT_AUTH_ENV]),
        trust_env=False,
        timeout=30,
    )
    deployment = api.get(f"/deployments/name/{DEPLOYMENT}").raise_for_status().json()
    deployment_id = deployment["id"]
    declared = {k: v for k, v in (deployment["job_variables"] or {}).items() if k != "command"}
    gateways = state.gateway_urls or [state.gateway_url]
    demo_flag = Path(state.data_dir) / "demo" / "broken"
    demo_flag.parent.mkdir(parents=True, exist_ok=True)
    demo_flag.touch()
    issues_dir = Path(state.data_dir) / "issues"
    run_tag = int(time.time())
    print(f"before: {load()}", flush=True)
    timings: dict[str, list[float]] = {mode: [] for mode in modes}
    try:
        for n in range(args.alerts * len(modes)):
            mode = modes[n % len(modes)]
            set_mode(api, deployment_id, declared, mode)
            check_id = f"demo-bench-{run_tag}-{n}"
            body = json.dumps(
                {
                    "check_id": check_id,
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                    "status": "fail",
                    "latency_ms": 1.0,
                    "message": "benchmark alert",
                }
            ).encode()
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            }
            answer = httpx.post(
                f"{gateways[n % len(gateways)]}/v1/alerts/sentinel",
                content=body,
                headers=headers,
                trust_env=False,
            )
            acknowledged = time.perf_counter()
            if answer.status_code != 202:
                print(f"alert {n}: gateway answered {answer.status_code}: {answer.text}")
                return 1
            deadline = acknowledged + args.timeout
            while not issue_for(issues_dir, check_id):
                if time.perf_counter() > deadline:
                    print(f"alert {n}: no issue after {args.timeout} s")
                    return 1
                time.sleep(0.01)
            timings[mode].append(time.perf_counter() - acknowledged)
            print(f"alert {n + 1:>2} {mode}: {timings[mode][-1]:.2f} s", flush=True)
            time.sleep(2)  # let the run finish before the next one
    finally:
        set_mode(api, deployment_id, declared, "warm")
        demo_flag.unlink(missing_ok=True)
    print(f"after: {load()}")
    for mode in modes:
        print(summary(mode, timings[mode]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
