"""Evidence collection time: 3 hosts x 3 log sources over SSH against a local OpenSSH sshd,
alone (median of N) and inside the remediation flow (its share of the flow's wall time).

Needs root (a test user for sshd) and openssh-server. Starts its own sshd and Prefect
server on 127.0.0.1 and stops both. Usage:
    .venv/bin/python bench/evidence.py [--runs 10] [--lines 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.processes import (  # noqa: E402
    free_port,
    http_ok,
    start_prefect_server,
    stop,
    wait_until,
)
from tests.support.sshd import SSHServer, running_sshd  # noqa: E402


def catalog(server: SSHServer, lines: int, health: str) -> dict[str, Any]:
    hosts = [
        {
            "name": f"web-{n + 1}",
            "address": server.address,
            "port": port,
            "user": server.user,
            "known_hosts": str(server.known_hosts),
            "private_key": str(server.client_key),
        }
        for n, port in enumerate(server.ports)
    ]
    path = server.write_file("app.log", "".join(f"file line {i} GET /x 200\n" for i in range(5000)))
    logs = [
        {"name": "app", "kind": "container", "container": "bench", "lines": lines},
        {"name": "unit", "kind": "systemd", "unit": "bench.service", "lines": lines},
        {"name": "file", "kind": "file", "path": str(path), "lines": lines},
    ]
    return {
        "services": [
            {
                "name": "bench",
                "checks": ["bench-*"],
                "health": [{"url": health, "timeout_s": 1}],
                "hosts": hosts,
                "logs": logs,
            }
        ],
        "verification": {"attempts": 1, "interval_s": 0},
        "policy": {"critical": {"propose_fix": False}},
    }


async def collect_only(data: dict[str, Any], runs: int) -> list[float]:
    from remediate.catalog import Catalog
    from remediate.evidence.logs import collect_service_logs
    from remediate.redaction import Redactor

    parsed = Catalog.model_validate(data)
    service = parsed.services[0]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        bundle = await collect_service_logs(
            service.name, service.hosts, service.logs, parsed.evidence, Redactor()
        )
        timings.append(time.perf_counter() - started)
        assert len(bundle.sources) == 9 and not bundle.failed, bundle.failed
    return timings


async def in_flow(runs: int) -> list[tuple[float, float]]:
    from flows.remediate_alert import remediate_alert
    from remediate.alerts import Alert

    pairs = []
    for n in range(runs):
        alert = Alert.from_sentinel(
            {
                "check_id": f"bench-evidence-{n}",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                "status": "fail",
                "message": "benchmark alert",
            }
        )
        started = time.perf_counter()
        outcome = await remediate_alert(alert)
        wall = time.perf_counter() - started
        assert outcome.logs is not None and len(outcome.logs.sources) == 9
        pairs.append((outcome.logs.duration_ms / 1000, wall))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lines", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="remediate-bench-evidence-"))
    prefect_port = free_port()
    os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{prefect_port}/api"
    os.environ["PREFECT_API_AUTH_STRING"] = f"bench:{secrets.token_urlsafe(24)}"
    os.environ["PREFECT_HOME"] = str(work / "client")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ["REMEDIATE_CATALOG"] = str(work / "catalog.yaml")
    os.environ["REMEDIATE_DATA_DIR"] = str(work / "data")
    prefect = start_prefect_server(
        prefect_port,
        work / "server",
        f"sqlite+aiosqlite:///{work}/prefect.db",
        dict(os.environ),
        work / "prefect.log",
        credential=os.environ["PREFECT_API_AUTH_STRING"],
    )
    try:
        with running_sshd(port_count=3) as server:
            server.write_container_log(
                "bench", "".join(f"container line {i}\n" for i in range(5000))
            )
            server.write_unit_log("bench.service", "".join(f"unit line {i}\n" for i in range(5000)))
            data = catalog(server, args.lines, f"http://127.0.0.1:{free_port()}/health")
            (work / "catalog.yaml").write_text(yaml.safe_dump(data))
            alone = asyncio.run(collect_only(data, args.runs))
            wait_until(http_ok(f"{os.environ['PREFECT_API_URL']}/health"), 180, "Prefect server")
            flow = asyncio.run(in_flow(args.runs + 1))[1:]
    finally:
        stop(prefect)
    evidence = [e for e, _ in flow]
    walls = [w for _, w in flow]
    shares = [e / w for e, w in flow]
    print(f"hosts=3 sources/host=3 lines/source={args.lines} runs={args.runs}")
    print(
        f"collection alone: median={statistics.median(alone) * 1000:.0f} ms "
        f"min={min(alone) * 1000:.0f} ms max={max(alone) * 1000:.0f} ms"
    )
    print(
        f"in the flow: collection median={statistics.median(evidence) * 1000:.0f} ms, "
        f"flow wall median={statistics.median(walls) * 1000:.0f} ms, "
        f"share median={statistics.median(shares) * 100:.0f}% "
        "(runs concurrently with diagnosis)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
