"""Time from `remediate send` to the issue existing, over N alerts, on the local stack.

Needs `make up` first. Usage: .venv/bin/python bench/alert_to_issue.py [--alerts 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediate.devstack.stack import StackConfig, read_state  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    config = StackConfig.from_env()
    state = read_state(config.data_dir)
    if state is None:
        print("no local stack: run `make up` first", file=sys.stderr)
        return 1
    env = {**os.environ, "PREFECT_API_URL": state.prefect_api_url}
    remediate = [sys.executable, "-m", "remediate.cli"]
    subprocess.run([*remediate, "demo", "break"], env=env, check=True, capture_output=True)
    issues_dir = Path(state.data_dir) / "issues"
    run_tag = int(time.time())
    timings = []
    try:
        for n in range(args.alerts):
            alert = {
                "check_id": f"demo-bench-{run_tag}-{n}",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                "status": "fail",
                "latency_ms": 1.0,
                "message": "benchmark alert",
            }
            started = time.perf_counter()
            sent = subprocess.run(
                [*remediate, "send", "-", "--json"],
                input=json.dumps(alert),
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            run_id = json.loads(sent.stdout)["flow_run_id"]
            fingerprint_key = None
            deadline = started + args.timeout
            while time.perf_counter() < deadline:
                for path in issues_dir.glob("*.json"):
                    record = json.loads(path.read_text())
                    if f"check:{alert['check_id']}" in record["labels"]:
                        fingerprint_key = record["fingerprint"]
                if fingerprint_key:
                    break
                time.sleep(0.02)
            if not fingerprint_key:
                print(f"alert {n}: no issue after {args.timeout} s (run {run_id})")
                return 1
            timings.append(time.perf_counter() - started)
            print(f"alert {n + 1:>2}: {timings[-1]:.2f} s")
    finally:
        subprocess.run([*remediate, "demo", "fix"], env=env, check=True, capture_output=True)
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"alerts={len(timings)} median={statistics.median(timings):.2f}s "
        f"p95={p95:.2f}s min={timings[0]:.2f}s max={timings[-1]:.2f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
