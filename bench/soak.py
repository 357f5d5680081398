"""Soak: alerts at a steady rate for a long time through a running stack, and what drifts.

Sends, at --rate posts per second for --minutes (30 by default), a mix of new problems in
five formats (Sentinel signed, Alertmanager, Grafana, generic, PagerDuty signed), sender
retries of a request already sent (duplicates), further occurrences of an open problem and
resolutions; approves every fix that waits for approval as `bench/approval_latency.py`
does (Prefect's resume API with the diff the run shows). Reports per window: posts and
new alerts accepted per second, alert-to-issue percentiles of the problems first sent in
that window; the memory (RSS) and open file descriptors of every long-running process of
the stack (stack.json's pids, read from /proc), with their slope; and at the end the
invariants: every accepted alert is in the outbox in a final state, every run the outbox
started is the only run of its delivery, one issue per problem, no comment written twice,
no pull request recorded twice.

Against the running `make up` stack (its stack.json and secrets.env; it needs no rate
limit and a cap on new runs above the rate, e.g.
    REMEDIATE_GATEWAY_RATE_LIMIT=0 REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE=600 make up),
or with --own-stack a stack of its own as bench/approval_latency.py brings up (temporary
data directory, free ports, the scripted model, a catalog whose `soak-fix-*` checks
belong to a service with a repository, so one new problem in ten waits for approval).

Usage: .venv/bin/python bench/soak.py [--minutes 30] [--rate 1] [--window 60] [--own-stack]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.approval_latency import SCRIPT, catalog, load  # noqa: E402
from remediate.devstack import stack  # noqa: E402
from remediate.gateway.auth import SIGNATURE_HEADER, sign  # noqa: E402
from remediate.runs.auth import CLIENT_AUTH_ENV, auth_headers  # noqa: E402

FORMATS = ("sentinel", "alertmanager", "grafana", "generic", "pagerduty")
APPROVER = "bench"


@dataclass
class Problem:
    """One new problem: its check id is its key everywhere (run tags, issue labels)."""

    key: str
    fmt: str
    acked_at: float
    window: int
    firing: list[bytes] = field(default_factory=list)
    resolved: bool = False
    issue_at: float | None = None


@dataclass
class Totals:
    posts: Counter[int] = field(default_factory=Counter)
    accepted: int = 0
    duplicates: int = 0
    delivered_keys: set[tuple[str, str, str]] = field(default_factory=set)
    approvals: int = 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per hour."""
    if len(samples) < 3:
        return 0.0
    xs = [s[0] for s in samples]
    ys = [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return (
        0.0
        if den == 0
        else 3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den
    )


def verdict(flat: bool, slope: float) -> str:
    return "flat" if flat else "GROWING" if slope > 0 else "falling"


def proc_sample(pid: int) -> tuple[float, int] | None:
    """RSS in MiB and open file descriptors of ``pid``, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return rss_kb / 1024, fds


class Soak:
    def __init__(self, state: stack.StackState, secrets: dict[str, str], args: Any) -> None:
        self.state = state
        self.args = args
        self.gateway = str(state.gateway_url)
        self.hmac_secret = secrets["REMEDIATE_HMAC_SECRETS"].split(",")[0]
        self.token = secrets["REMEDIATE_INGEST_TOKENS"].split(",")[0]
        self.pagerduty_secret = (secrets.get("REMEDIATE_PAGERDUTY_SECRETS") or "").split(",")[0]
        self.api_headers = auth_headers(secrets[CLIENT_AUTH_ENV])
        self.prefix = f"soak-{uuid.uuid4().hex[:6]}"
        self.problems: list[Problem] = []
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []
        self.totals = Totals()
        self.window_posts: Counter[int] = Counter()
        self.window_accepted: Counter[int] = Counter()
        self.samples: dict[str, list[tuple[float, float, int]]] = {n: [] for n in state.pids}
        self.started = time.monotonic()
        self.stop = asyncio.Event()
        self.unfinished: list[str] = []
        """Problems whose run had not opened its issue yet when the soak stopped waiting."""

    # --- requests ---------------------------------------------------------------------

    def request(
        self, fmt: str, key: str, occurrence: int, firing: bool
    ) -> tuple[str, bytes, dict[str, str]]:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        token = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        if fmt == "sentinel":
            body = json.dumps(
                {
                    "check_id": key,
                    "timestamp": now,
                    "status": "fail" if firing else "pass",
                    "latency_ms": 1.0,
                    "message": f"soak occurrence {occurrence}",
                }
            ).encode()
            headers = {
                SIGNATURE_HEADER: sign(self.hmac_secret, int(time.time()), body),
                "Content-Type": "application/json",
            }
            return "/v1/alerts/sentinel", body, headers
        status = "firing" if firing else "resolved"
        if fmt in ("alertmanager", "grafana"):
            alert = {
                "status": status,
                "labels": {"alertname": key, "severity": "warning"},
                "annotations": {"summary": f"soak {key}"},
                "startsAt": f"2026-01-01T00:{occurrence % 60:02d}:00Z",
                "fingerprint": hashlib.sha256(key.encode()).hexdigest()[:16],
            }
            if not firing:
                alert["endsAt"] = now
            group = {"receiver": "soak", "status": status, "alerts": [alert], "version": "4"}
            return f"/v1/alerts/{fmt}", json.dumps(group).encode(), token
        if fmt == "generic":
            body = {
                "id": f"{key}-{occurrence}-{status}",
                "check_id": key,
                "status": status,
                "severity": "warning",
                "summary": f"soak {key}",
                "fingerprint": hashlib.sha256(key.encode()).hexdigest()[:16],
            }
            return "/v1/alerts/generic", json.dumps(body).encode(), token
        incident_id = "P" + hashlib.sha256(key.encode()).hexdigest()[:12].upper()
        event = {
            "event": {
                "id": str(uuid.uuid4()),
                "resource_type": "incident",
                "occurred_at": now,
                "event_type": "incident.triggered" if firing else "incident.resolved",
                "data": {
                    "id": incident_id,
                    "type": "incident",
                    "title": key,
                    "number": 1,
                    "status": "triggered" if firing else "resolved",
                    "urgency": "high",
                    "created_at": now,
                    "html_url": f"https://pd.example/incidents/{incident_id}",
                    "service": {"id": "PSOAK", "summary": "soak", "type": "service_reference"},
                },
            }
        }
        body = json.dumps(event).encode()
        digest = hmac.new(self.pagerduty_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-PagerDuty-Signature": f"v1={digest}", "Content-Type": "application/json"}
        return "/v1/alerts/pagerduty", body, headers

    async def post(
        self, client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str]
    ) -> dict[str, Any] | None:
        window = self.window()
        try:
            answer = await client.post(path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.totals.posts[0] += 1
            print(f"  post failed: {exc!r}", flush=True)
            return None
        self.totals.posts[answer.status_code] += 1
        self.window_posts[window] += 1
        if answer.status_code not in (200, 202):
            print(f"  {path}: {answer.status_code} {answer.text[:200]}", flush=True)
            return None
        result: dict[str, Any] = answer.json()
        self.totals.accepted += result["accepted"]
        self.totals.duplicates += result["duplicates"]
        self.window_accepted[window] += result["accepted"]
        for alert in result["alerts"]:
            if not alert["duplicate"]:
                self.totals.delivered_keys.add((alert["fingerprint"], alert["id"], alert["status"]))
        return result

    def window(self) -> int:
        return int((time.monotonic() - self.started) // self.args.window)

    # --- the load ---------------------------------------------------------------------

    async def send(self) -> None:
        formats = [f for f in FORMATS if f != "pagerduty" or self.pagerduty_secret]
        deadline = self.started + self.args.minutes * 60
        interval = 1 / self.args.rate
        async with httpx.AsyncClient(base_url=self.gateway, trust_env=False, timeout=60) as client:
            step = 0
            while time.monotonic() < deadline:
                due = self.started + step * interval
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await self.one(client, step, formats)
                step += 1
        self.stop.set()

    async def one(self, client: httpx.AsyncClient, step: int, formats: list[str]) -> None:
        kind = step % 10
        older = [p for p in self.problems if not p.resolved]
        if kind == 6 and self.sent:
            path, body, headers = self.sent[(step * 7919) % len(self.sent)]
            if path == "/v1/alerts/sentinel":  # a fresh signature over the same body
                headers = dict(headers) | {
                    SIGNATURE_HEADER: sign(self.hmac_secret, int(time.time()), body)
                }
            await self.post(client, path, body, headers)
        elif kind == 7 and older:
            problem = older[-1]
            await self.post(client, *self.request(problem.fmt, problem.key, step, True))
        elif kind == 8 and len(older) > 5:
            problem = older[0]
            problem.resolved = True
            await self.post(client, *self.request(problem.fmt, problem.key, step, False))
        else:
            n = len(self.problems)
            fix = "fix-" if n % 10 == 0 else ""
            key = f"{self.prefix}-{fix}{n}"
            fmt = formats[n % len(formats)]
            path, body, headers = self.request(fmt, key, 0, True)
            result = await self.post(client, path, body, headers)
            if result is not None and result["accepted"]:
                self.problems.append(Problem(key, fmt, time.monotonic(), self.window()))
                self.sent.append((path, body, headers))

    # --- watchers ---------------------------------------------------------------------

    def issues(self) -> list[dict[str, Any]]:
        found = []
        for path in (Path(self.state.data_dir) / "issues").glob("*.json"):
            try:
                issue = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # being written
            if any(label.startswith(f"check:{self.prefix}-") for label in issue["labels"]):
                found.append(issue)
        return found

    async def watch_issues(self) -> None:
        while True:
            labels = {label for issue in self.issues() for label in issue["labels"]}
            now = time.monotonic()
            for problem in self.problems:
                if problem.issue_at is None and f"check:{problem.key}" in labels:
                    problem.issue_at = now
            if self.stop.is_set() and all(p.issue_at for p in self.problems):
                return
            await asyncio.sleep(1)

    async def sample(self) -> None:
        while not self.stop.is_set():
            at = time.monotonic() - self.started
            for name, pid in self.state.pids.items():
                got = proc_sample(pid)
                if got is not None:
                    self.samples[name].append((at, *got))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=self.args.sample)

    async def approve_waiting(self) -> None:
        """Approve every run of this soak suspended at the fix approval gate."""
        async with httpx.AsyncClient(
            base_url=self.state.prefect_api_url,
            headers=self.api_headers,
            trust_env=False,
            timeout=30,
        ) as api:
            while True:
                query = {"flow_runs": {"state": {"name": {"any_": ["Suspended"]}}}}
                try:
                    runs = (await api.post("/flow_runs/filter", json=query)).json()
                    for run in runs:
                        if not any(t.startswith(f"check:{self.prefix}-") for t in run["tags"]):
                            continue
                        value = (
                            await api.get(
                                f"/flow_runs/{run['id']}/input/suspended-fix-approval-schema"
                            )
                        ).json()
                        schema = json.loads(value) if isinstance(value, str) else value
                        sha = schema["properties"]["diff_sha256"]["default"]
                        run_input = {
                            "decision": "approve",
                            "approver": APPROVER,
                            "diff_sha256": sha,
                        }
                        answer = await api.post(
                            f"/flow_runs/{run['id']}/resume", json={"run_input": run_input}
                        )
                        if answer.is_success and answer.json().get("status") == "ACCEPT":
                            self.totals.approvals += 1
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    print(f"  approval sweep: {exc!r}", flush=True)
                if self.stop.is_set() and all(p.issue_at for p in self.problems):
                    return
                await asyncio.sleep(5)

    # --- report -----------------------------------------------------------------------

    def report_windows(self) -> None:
        print(f"per {self.args.window:.0f} s window (by when the problem was first sent):")
        for window in range(max(self.window_posts, default=0) + 1):
            latencies = [
                p.issue_at - p.acked_at
                for p in self.problems
                if p.window == window and p.issue_at is not None
            ]
            posts = self.window_posts[window] / self.args.window
            accepted = self.window_accepted[window] / self.args.window
            line = f"  {window:3d}: {posts:5.2f} posts/s, {accepted:5.2f} new alerts/s"
            if latencies:
                line += (
                    f", alert -> issue p50 {percentile(latencies, 0.5):6.1f} s"
                    f" p95 {percentile(latencies, 0.95):6.1f} s"
                    f" max {max(latencies):6.1f} s (n={len(latencies)})"
                )
            print(line)

    def report_processes(self) -> None:
        print("long-running processes (RSS MiB, open fds; slope after the first window):")
        for name, samples in self.samples.items():
            if not samples:
                print(f"  {name}: not running")
                continue
            steady = [s for s in samples if s[0] >= self.args.window] or samples
            rss = slope_per_hour([(s[0], s[1]) for s in steady])
            fds = slope_per_hour([(s[0], s[2]) for s in steady])
            hours = max(1e-9, (steady[-1][0] - steady[0][0]) / 3600)
            mean_rss = statistics.fmean(s[1] for s in steady)
            flat_rss = abs(rss * hours) <= max(0.05 * mean_rss, 5)
            flat_fds = abs(fds * hours) <= 5
            print(
                f"  {name:10s} RSS {samples[0][1]:7.1f} -> {samples[-1][1]:7.1f}"
                f" (max {max(s[1] for s in samples):7.1f}), slope {rss:+8.1f} MiB/h"
                f" {verdict(flat_rss, rss)};"
                f" fds {samples[0][2]} -> {samples[-1][2]} (max {max(s[2] for s in samples)}),"
                f" slope {fds:+7.1f}/h {verdict(flat_fds, fds)}"
            )

    async def invariants(self) -> list[str]:
        problems: list[str] = []
        by_check: Counter[str] = Counter()
        for issue in self.issues():
            keys = [c["key"] for c in issue["comments"]]
            if len(keys) != len(set(keys)):
                problems.append(f"issue #{issue['number']}: a comment written twice")
            resolved = sum(c["body"].startswith("Resolved at") for c in issue["comments"])
            if resolved > 1:
                problems.append(f"issue #{issue['number']}: {resolved} resolution comments")
            by_check.update(
                label[6:] for label in issue["labels"] if label.startswith(f"check:{self.prefix}-")
            )
        problems += [f"{check}: {n} issues" for check, n in by_check.items() if n > 1]
        branches: Counter[str] = Counter()
        for path in (Path(self.state.data_dir) / "pulls").glob("*.json"):
            record = json.loads(path.read_text())
            if str(record.get("branch", "")).startswith(f"remediate/{self.prefix}"):
                branches[str(record["branch"])] += 1
        problems += [f"{b}: {n} pull requests" for b, n in branches.items() if n > 1]
        problems += await self.outbox_invariants()
        return problems

    async def outbox_invariants(self) -> list[str]:
        """Every accepted delivery in the outbox in a final state; each run it started is
        the only run of its problem created then (Prefect holds no run the outbox does not
        know)."""
        path = Path(self.state.data_dir) / "gateway-outbox.sqlite3"
        if os.environ.get("REMEDIATE_OUTBOX_URL") or not path.exists():
            print("outbox and runs not cross-checked: only the stack's SQLite outbox is read")
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT alert, state, flow_run_id, started_run FROM outbox"
            ).fetchall()
        finally:
            db.close()
        found: dict[tuple[str, str, str], tuple[str, str | None, int]] = {}
        started: dict[str, list[str]] = {}
        for alert_json, state, run_id, started_run in rows:
            if not alert_json:
                continue
            alert = json.loads(alert_json)
            if not str(alert.get("check_id", "")).startswith(self.prefix):
                continue
            found[(alert["fingerprint"], alert["id"], alert["status"])] = (
                state,
                run_id,
                started_run,
            )
            if started_run:
                started.setdefault(alert["check_id"], []).append(run_id)
        problems = []
        lost = self.totals.delivered_keys - set(found)
        if lost:
            problems.append(f"{len(lost)} accepted alerts not in the outbox: {sorted(lost)[:3]}")
        pending = [k for k, v in found.items() if v[0] == "pending"]
        if pending:
            problems.append(f"{len(pending)} alerts still pending in the outbox")
        async with httpx.AsyncClient(
            base_url=self.state.prefect_api_url,
            headers=self.api_headers,
            trust_env=False,
            timeout=60,
        ) as api:
            for problem in self.problems:
                query = {"flow_runs": {"tags": {"all_": [f"check:{problem.key}"]}}}
                found_runs = (await api.post("/flow_runs/filter", json=query)).json()
                runs = {r["id"] for r in found_runs}
                if problem.issue_at is None:
                    states = sorted({(r.get("state") or {}).get("name", "?") for r in found_runs})
                    if not found_runs or states == ["Completed"]:
                        problems.append(f"{problem.key}: no issue, runs {states}")
                    else:
                        self.unfinished.append(f"{problem.key}: runs {states}")
                expected = set(started.get(problem.key, []))
                if runs != expected or len(expected) != len(started.get(problem.key, [])):
                    problems.append(
                        f"{problem.key}: runs {sorted(runs)}, the outbox started {sorted(expected)}"
                    )
        return problems


async def soak(state: stack.StackState, secrets: dict[str, str], args: Any) -> int:
    bench = Soak(state, secrets, args)
    print(f"before: {load()}; {args.rate} posts/s for {args.minutes} min to {bench.gateway}")
    print(f"  processes: {state.pids}", flush=True)
    watchers = [
        asyncio.create_task(bench.watch_issues()),
        asyncio.create_task(bench.sample()),
        asyncio.create_task(bench.approve_waiting()),
    ]
    await bench.send()
    sent_for = time.monotonic() - bench.started
    print(
        f"sending done: {sum(bench.totals.posts.values())} posts in {sent_for:.0f} s; {load()}",
        flush=True,
    )
    try:
        await asyncio.wait_for(asyncio.gather(*watchers[:1], watchers[2]), timeout=args.drain)
    except TimeoutError:
        print(f"  not every problem has its issue after {args.drain:.0f} s more")
    watchers[1].cancel()
    async with httpx.AsyncClient(trust_env=False) as client:
        health = (await client.get(f"{bench.gateway}/healthz")).json()
    print(f"after: {load()}")
    print(
        f"posts by status {dict(bench.totals.posts)}; new alerts {bench.totals.accepted},"
        f" duplicates {bench.totals.duplicates}; problems {len(bench.problems)};"
        f" approvals {bench.totals.approvals}"
    )
    print(
        f"throughput: {sum(bench.totals.posts.values()) / sent_for:.2f} posts/s,"
        f" {bench.totals.accepted / sent_for:.2f} new alerts/s; outbox {health['outbox']}"
    )
    latencies = [p.issue_at - p.acked_at for p in bench.problems if p.issue_at is not None]
    if latencies:
        print(
            f"alert -> issue overall: p50 {percentile(latencies, 0.5):.1f} s,"
            f" p95 {percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s"
        )
    bench.report_windows()
    bench.report_processes()
    broken = await bench.invariants()
    print("invariants: " + ("hold (nothing lost, nothing doubled)" if not broken else "BROKEN"))
    for line in broken:
        print(f"  {line}")
    if bench.unfinished:
        print(f"still under way after --drain (not lost): {len(bench.unfinished)}")
        for line in bench.unfinished[:10]:
            print(f"  {line}")
    return 1 if broken else 0


def own_stack(args: Any) -> int:
    from tests.support.model_server import ModelServer
    from tests.support.processes import free_port
    from tests.support.repos import make_bare_repo

    home = Path(tempfile.mkdtemp(prefix="remediate-bench-soak-"))
    repo = make_bare_repo(home, "bench")
    entries = catalog(repo)
    entries["services"][0]["checks"] = ["soak-*-fix-*"]
    (home / "catalog.yaml").write_text(yaml.safe_dump(entries))
    model = ModelServer()
    model.start()
    model.play(*SCRIPT)
    os.environ.update(
        {
            "REMEDIATE_DATA_DIR": str(home / "stack"),
            "REMEDIATE_CATALOG": str(home / "catalog.yaml"),
            "REMEDIATE_PREFECT_PORT": str(free_port()),
            "REMEDIATE_DEMO_PORT": str(free_port()),
            "REMEDIATE_GATEWAY_PORT": str(free_port()),
            "REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE": "600",
            "REMEDIATE_GATEWAY_RATE_LIMIT": "0",
            "ANTHROPIC_API_KEY": "sk-bench",
            "ANTHROPIC_BASE_URL": model.url,
        }
    )
    config = stack.StackConfig.from_env()
    try:
        state = stack.up(config)
        return asyncio.run(soak(state, stack.ensure_dev_secrets(config.secrets_file), args))
    finally:
        stack.down(config)
        model.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=1.0, help="posts per second")
    parser.add_argument("--window", type=float, default=60, help="seconds per report window")
    parser.add_argument("--sample", type=float, default=10, help="seconds between /proc samples")
    parser.add_argument("--drain", type=float, default=600, help="seconds to wait for issues")
    parser.add_argument("--own-stack", action="store_true", help="bring up a stack of its own")
    args = parser.parse_args()
    if args.own_stack:
        return own_stack(args)
    config = stack.StackConfig.from_env()
    state = stack.read_state(config.data_dir)
    if state is None or state.gateway_url is None:
        print("no local stack: run `make up` first (or pass --own-stack)", file=sys.stderr)
        return 1
    return asyncio.run(soak(state, stack.read_secrets(config.secrets_file), args))


if __name__ == "__main__":
    raise SystemExit(main())
