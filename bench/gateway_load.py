"""Intake gateway load: accepted alerts/s, acknowledgement latency, and an alert storm.

Starts its own Prefect server (temporary database), a deployment of remediate_alert that no
worker serves, and the gateway as `remediate gateway` runs it; every request is signed.

With --stack, only the storm, sent to the gateway of the running `make up` stack, whose
worker runs every alert: the time from the last acknowledgement to the last issue on disk.
On the scale profile (`remediate up --profile scale`) the storm is split evenly over every
gateway in stack.json, each with its share of the connections.
The stack needs no rate limit and a cap on new runs above the fingerprint count:
    REMEDIATE_GATEWAY_RATE_LIMIT=0 REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE=600 make up

Usage: .venv/bin/python bench/gateway_load.py [--sustained 5000] [--rounds 1] [--storm 10000]
       [--fingerprints 100] [--concurrency 32] [--outbox-url postgresql://...]
       .venv/bin/python bench/gateway_load.py --stack [--storm 10000] [--fingerprints 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediate.gateway.auth import SIGNATURE_HEADER, sign  # noqa: E402
from remediate.runs.auth import auth_headers  # noqa: E402

SECRET = "bench-secret"
TOKEN = "bench-token"
DEPLOYMENT_NAME = "gateway-bench"
CREDENTIAL = f"bench:{secrets.token_urlsafe(24)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            continue


def wait_ok(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def request_bytes(port: int, body: dict[str, Any], secret: str = SECRET) -> bytes:
    raw = json.dumps(body).encode()
    signature = sign(secret, int(time.time()), raw)
    head = (
        f"POST /v1/alerts/sentinel HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n"
        f"{SIGNATURE_HEADER}: {signature}\r\n\r\n"
    )
    return head.encode() + raw


async def blast(
    port: int, requests: list[bytes], concurrency: int
) -> tuple[float, list[float], dict[int, int], int]:
    """Send pre-built requests over keep-alive connections; returns elapsed seconds,
    per-request latencies, status counts and the sum of `accepted` in the answers."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted = 0

    async def worker() -> None:
        nonlocal accepted
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                writer.write(item)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = int(head.split(b" ", 2)[1])
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202:
                    accepted += int(json.loads(body)["accepted"])
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses, accepted


async def blast_all(
    ports: list[int], shares: list[list[bytes]], concurrency: int
) -> tuple[float, list[float], dict[int, int], int]:
    """``blast`` each share to its gateway at once; the results merged."""
    started = time.perf_counter()
    results = await asyncio.gather(
        *(blast(port, share, concurrency) for port, share in zip(ports, shares, strict=True))
    )
    latencies = [value for _, values, _, _ in results for value in values]
    statuses: dict[int, int] = {}
    for _, _, counts, _ in results:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    return time.perf_counter() - started, latencies, statuses, sum(r[3] for r in results)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def outbox(url: str) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{url}/healthz", trust_env=False).json()["outbox"]
    return counts


def wait_drained(url: str, timeout: float) -> tuple[dict[str, int], float]:
    started = time.monotonic()
    while True:
        counts = outbox(url)
        if counts["pending"] == 0:
            return counts, time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"outbox not drained: {counts}")
        time.sleep(0.2)


def count_runs(api: str, tags: list[str]) -> int:
    response = httpx.post(
        f"{api}/flow_runs/count",
        json={"flow_runs": {"tags": {"all_": tags}}},
        headers=auth_headers(CREDENTIAL),
        trust_env=False,
    )
    response.raise_for_status()
    return int(response.json())


def check(check_id: str, stamp: int) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)),
        "status": "fail",
        "latency_ms": 3.2,
        "message": "Unexpected status: HTTP 500",
        "details": {"total_tests": 5, "failed_tests": 1},
    }


def storm_bodies(prefix: str, count: int, fingerprints: int, now: int) -> list[dict[str, Any]]:
    """N posts over F new fingerprints; each fingerprint gets 20 distinct occurrences, each
    delivered several times, all shuffled."""
    bodies = [
        check(f"{prefix}-{n % fingerprints}", now - (n // fingerprints) % 20) for n in range(count)
    ]
    random.Random(1).shuffle(bodies)
    return bodies


def issues_for(issues_dir: Path, prefix: str) -> set[str]:
    """The checks of ``prefix`` that have an issue on disk."""
    found = set()
    for path in issues_dir.glob("*.json"):
        try:
            labels = json.loads(path.read_text())["labels"]
        except (OSError, ValueError, KeyError):
            continue  # being written
        found.update(label[6:] for label in labels if label.startswith(f"check:{prefix}-"))
    return found


def storm_on_stack(args: argparse.Namespace) -> int:
    """The storm through the running stack's gateway and worker, up to the issues on disk."""
    from remediate.devstack.stack import StackConfig, read_secrets, read_state
    from remediate.runs.auth import CLIENT_AUTH_ENV

    config = StackConfig.from_env()
    state = read_state(config.data_dir)
    if state is None or state.gateway_url is None:
        print("no local stack: run `make up` first", file=sys.stderr)
        return 1
    stored = read_secrets(config.secrets_file)
    secret = stored["REMEDIATE_HMAC_SECRETS"].split(",")[0]
    headers = auth_headers(stored[CLIENT_AUTH_ENV])
    ports = [int(url.rsplit(":", 1)[1]) for url in state.gateway_urls or [state.gateway_url]]
    demo_flag = Path(state.data_dir) / "demo" / "broken"
    demo_flag.parent.mkdir(parents=True, exist_ok=True)
    demo_flag.touch()
    prefix = f"demo-storm-{uuid.uuid4().hex[:6]}"
    issues_dir = Path(state.data_dir) / "issues"
    bodies = storm_bodies(prefix, args.storm, args.fingerprints, int(time.time()))
    shares = [
        [request_bytes(port, body, secret) for body in bodies[n :: len(ports)]]
        for n, port in enumerate(ports)
    ]
    storm = [item for share in shares for item in share]
    print(f"before: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    try:
        elapsed, latencies, statuses, accepted = asyncio.run(
            blast_all(ports, shares, max(1, args.concurrency // len(ports)))
        )
        acknowledged = time.perf_counter()
        print(f"storm: {len(storm)} posts over {args.fingerprints} fingerprints to {prefix}-*")
        print(f"  through {len(ports)} gateway(s): ports {', '.join(map(str, ports))}")
        print(f"  statuses {statuses}; {len(storm) / elapsed:.0f} posts/s in {elapsed:.1f} s")
        print(
            f"  ack latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
        )
        print(f"  accepted (new deliveries) {accepted}", flush=True)
        seen = 0
        while (count := len(issues_for(issues_dir, prefix))) < args.fingerprints:
            if count != seen:
                seen = count
                print(f"  {time.perf_counter() - acknowledged:6.1f} s: {count} issues", flush=True)
            if time.perf_counter() - acknowledged > args.timeout:
                print(f"  only {count} issues after {args.timeout:.0f} s")
                return 1
            time.sleep(0.2)
        drained = time.perf_counter() - acknowledged
    finally:
        demo_flag.unlink(missing_ok=True)
    runs = [
        len(_runs(state.prefect_api_url, headers, f"check:{prefix}-{f}"))
        for f in range(args.fingerprints)
    ]
    print(f"  last ack -> issue {args.fingerprints} of {args.fingerprints}: {drained:.1f} s")
    print(f"  flow runs per fingerprint: {sorted(set(runs))} (total {sum(runs)})")
    print(f"  outbox {outbox(state.gateway_url)}")
    print(f"after: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if runs == [1] * args.fingerprints else 1


def _runs(api: str, headers: dict[str, str], tag: str) -> list[dict[str, Any]]:
    answer = httpx.post(
        f"{api}/flow_runs/filter",
        json={"flow_runs": {"tags": {"all_": [tag]}}},
        headers=headers,
        trust_env=False,
    )
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    return runs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sustained", type=int, default=5000)
    parser.add_argument("--storm", type=int, default=10_000, help="0 skips the storm")
    parser.add_argument("--rounds", type=int, default=1, help="sustained rounds, one gateway")
    parser.add_argument("--fingerprints", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--outbox-url", default=None)
    parser.add_argument("--stack", action="store_true", help="storm through `make up`")
    parser.add_argument("--timeout", type=float, default=900, help="--stack: seconds to wait")
    args = parser.parse_args()
    if args.stack:
        return storm_on_stack(args)

    home = Path(tempfile.mkdtemp(prefix="remediate-gateway-bench-"))
    prefect_port, gateway_port = free_port(), free_port()
    api = f"http://127.0.0.1:{prefect_port}/api"
    gateway = f"http://127.0.0.1:{gateway_port}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    server_env = {
        **base_env,
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_AUTH_STRING": CREDENTIAL,
    }
    client_env = {
        **base_env,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": api,
        "PREFECT_API_AUTH_STRING": CREDENTIAL,
        "PREFECT_HOME": str(home / "client"),
    }
    processes = []
    try:
        prefect = spawn(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(prefect_port),
            ],
            server_env,
            home / "prefect.log",
        )
        processes.append(prefect)
        wait_ok(f"{api}/health", 180)
        deploy = (
            "import asyncio\nfrom flows.remediate_alert import remediate_alert\n"
            "async def main():\n"
            f"    d = await remediate_alert.to_deployment(name={DEPLOYMENT_NAME!r})\n"
            "    await d.apply()\n"
            "asyncio.run(main())\n"
        )
        subprocess.run([sys.executable, "-c", deploy], env=client_env, cwd=ROOT, check=True)
        (home / "catalog.yaml").write_text("services: []\n")
        gateway_env = {
            **client_env,
            "REMEDIATE_HMAC_SECRETS": SECRET,
            "REMEDIATE_INGEST_TOKENS": TOKEN,
            "REMEDIATE_GATEWAY_DEPLOYMENT": f"remediate-alert/{DEPLOYMENT_NAME}",
            "REMEDIATE_GATEWAY_RATE_LIMIT": "0",
            "REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE": "100000",
        }
        if args.outbox_url:
            gateway_env["REMEDIATE_OUTBOX_URL"] = args.outbox_url
        proc = spawn(
            [
                sys.executable,
                "-m",
                "remediate.gateway.server",
                "--port",
                str(gateway_port),
                "--data-dir",
                str(home / "gateway"),
                "--catalog",
                str(home / "catalog.yaml"),
                "--log-level",
                "warning",
            ],
            gateway_env,
            home / "gateway.log",
        )
        processes.append(proc)
        wait_ok(f"{gateway}/healthz", 60)
        now = int(time.time())
        for _ in range(args.rounds):
            run_id = uuid.uuid4().hex[:6]
            # Sustained intake: distinct occurrences of 50 checks, every one a new outbox row.
            sustained = [
                request_bytes(gateway_port, check(f"load-{run_id}-{n % 50}", now - n))
                for n in range(args.sustained)
            ]
            cpu_before = cpu_seconds(proc.pid)
            elapsed, latencies, statuses, accepted = asyncio.run(
                blast(gateway_port, sustained, args.concurrency)
            )
            cpu = cpu_seconds(proc.pid) - cpu_before
            print(f"sustained: {len(sustained)} signed posts, concurrency {args.concurrency}")
            print(f"  gateway CPU {cpu * 1000 / len(sustained):.2f} ms per post (all its threads)")
            print(f"  statuses {statuses}, accepted {accepted}")
            print(f"  {len(sustained) / elapsed:.0f} accepted alerts/s")
            print(
                f"  ack latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
                f"max {max(latencies) * 1000:.1f} ms"
            )
            counts, drain = wait_drained(gateway, 600)
            print(f"  outbox drained {drain:.1f} s after the last ack: {counts}")
        if args.storm == 0:
            return 0

        storm_id = uuid.uuid4().hex[:6]
        bodies = storm_bodies(f"storm-{storm_id}", args.storm, args.fingerprints, now)
        storm = [request_bytes(gateway_port, body) for body in bodies]
        before = sum(outbox(gateway).values())
        elapsed, latencies, statuses, accepted = asyncio.run(
            blast(gateway_port, storm, args.concurrency)
        )
        counts, drain = wait_drained(gateway, 900)
        rows = sum(counts.values()) - before
        runs = sum(
            count_runs(api, [f"check:storm-{storm_id}-{f}"]) for f in range(args.fingerprints)
        )
        print(f"storm: {len(storm)} posts over {args.fingerprints} fingerprints")
        print(f"  statuses {statuses}; {len(storm) / elapsed:.0f} posts/s")
        print(
            f"  ack latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
        )
        print(f"  accepted (new deliveries) {accepted}, outbox rows for them {rows}")
        print(f"  flow runs started {runs}; outbox drained {drain:.1f} s after the last ack")
        print(f"  lost: {accepted - rows}; final outbox {counts}")
        print(f"gateway peak memory (VmHWM): {peak_rss_mb(proc.pid):.0f} MB")
        return 0 if runs == args.fingerprints and accepted == rows else 1
    finally:
        for process in reversed(processes):
            stop(process)


if __name__ == "__main__":
    raise SystemExit(main())
