"""Investigation wall time, tokens and cost per scripted incident.

The real bundled Claude Code CLI runs against the scripted model on 127.0.0.1 and calls the
real in-process MCP tools: catalog commands and logs over SSH on a local OpenSSH sshd, and
(scenario ``wide``) the recent commits of a repository served by ``git http-backend`` and a
dependency probe. Tokens are the usage the scripted model reports (100 input / 20 output per
turn) and the cost is what the CLI computes from them, so those two figures measure the
session's turn count, not a real model; the wall time is the system's own.

Needs root (a test user for sshd), openssh-server and git. Usage:
    .venv/bin/python bench/investigation.py [--runs 5] [--scenario disk-full|wide|all]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.git_remote import GitRemote  # noqa: E402
from tests.support.model_server import ModelServer, Turn, text, tool  # noqa: E402
from tests.support.repos import git  # noqa: E402
from tests.support.sshd import SSHServer, running_sshd  # noqa: E402

PREFIX = "mcp__investigate__"
DF = "Filesystem 1K-blocks Used Available Use% Mounted on\n/dev/sda1 1000 1000 0 100% /var\n"


@dataclass
class Measure:
    wall_s: float
    turns: int
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    supported: bool


def catalog(server: SSHServer, repository: dict[str, Any] | None) -> dict[str, Any]:
    df = server.write_file("bench-df.txt", DF)
    service: dict[str, Any] = {
        "name": "api",
        "checks": ["api-*"],
        "hosts": [
            {
                "name": "web-1",
                "address": server.address,
                "port": server.port,
                "user": server.user,
                "known_hosts": str(server.known_hosts),
                "private_key": str(server.client_key),
            }
        ],
        "logs": [{"name": "app", "kind": "container", "container": "bench-api"}],
        "dependencies": [{"name": "ssh", "host": server.address, "port": server.port}],
        "actions": [
            {"name": "clean-tmp", "description": "remove old files", "risk": "low", "run": ["true"]}
        ],
    }
    if repository is not None:
        service["repository"] = repository
    return {
        "evidence": {
            "limits": {"connect_timeout_s": 5, "command_timeout_s": 5},
            "commands": {"disk-usage": ["cat", str(df)]},
        },
        "investigation": {"max_turns": 10},
        "services": [service],
    }


def conclusion(quote: str, source: str) -> dict[str, Any]:
    return tool(
        PREFIX + "submit_investigation",
        summary="/var is full on web-1",
        hypotheses=[
            {
                "statement": "the /var filesystem is full, so writes fail",
                "confidence": 0.9,
                "quotes": [{"source": source, "text": quote}],
                "action": "clean-tmp",
            }
        ],
        next_step={"kind": "action", "action": "clean-tmp", "description": "free space"},
    )


def script(scenario: str) -> list[Turn]:
    if scenario == "disk-full":
        return [
            Turn([tool(PREFIX + "run_command", host="web-1", command="disk-usage")]),
            Turn([conclusion("/dev/sda1 1000 1000 0 100% /var", "call-1")]),
            Turn([text("submitted")]),
        ]
    return [
        Turn([tool(PREFIX + "read_log", host="web-1", source="app", lines=100)]),
        Turn([tool(PREFIX + "run_command", host="web-1", command="disk-usage")]),
        Turn([tool(PREFIX + "probe", target="ssh")]),
        Turn([tool(PREFIX + "recent_commits", count=5)]),
        Turn([conclusion("/dev/sda1 1000 1000 0 100% /var", "call-2")]),
        Turn([text("submitted")]),
    ]


async def measure(data: dict[str, Any], scenario: str, model: ModelServer) -> Measure:
    from remediate.alerts import Alert
    from remediate.catalog import Catalog
    from remediate.investigation.investigate import investigate

    parsed = Catalog.model_validate(data)
    alert = Alert.from_sentinel(
        {"check_id": "api-disk", "timestamp": "2026-11-29T12:00:00", "status": "fail"}
    )
    model.play(*script(scenario))
    started = time.perf_counter()
    result = await investigate(alert, parsed.service("api"), parsed, parsed.redactor())
    wall = time.perf_counter() - started
    if result.status.value != "completed":
        raise RuntimeError(f"investigation {result.status.value}: {result.reason}")
    return Measure(
        wall_s=wall,
        turns=result.turns,
        calls=len(result.calls),
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        cost_usd=result.cost_usd,
        supported=result.top is not None,
    )


def report(scenario: str, runs: list[Measure]) -> None:
    walls = [m.wall_s for m in runs]
    last = runs[-1]
    print(f"scenario {scenario}: {len(runs)} runs, {last.calls} tool calls, {last.turns} turns")
    print("  wall time s: " + ", ".join(f"{w:.2f}" for w in walls))
    print(
        f"  median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f});"
        f" median of runs after the first {statistics.median(walls[1:] or walls):.2f} s"
    )
    print(
        f"  per investigation: {last.input_tokens} input / {last.output_tokens} output tokens,"
        f" USD {last.cost_usd:.4f}; top hypothesis supported in "
        f"{sum(m.supported for m in runs)}/{len(runs)}"
    )


def repository(remote: GitRemote) -> dict[str, Any]:
    remote.add_repo("acme", "api")
    work = remote.root / "acme" / "api-work"
    for n in range(8):
        (work / f"change-{n}.txt").write_text(f"change {n}\n")
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", f"change {n}")
    git(work, "push", "-q", str(remote.root / "acme" / "api.git"), "main")
    os.environ["GITHUB_TOKEN"] = remote.token
    return {"owner": "acme", "name": "api", "clone_url": remote.url("acme", "api")}


async def bench(runs: int, scenarios: list[str]) -> None:
    model = ModelServer()
    model.start()
    remote = GitRemote(Path(tempfile.mkdtemp(prefix="remediate-bench-git-")))
    remote.root.mkdir(exist_ok=True)
    remote.start()
    os.environ |= {"ANTHROPIC_API_KEY": "sk-bench-scripted", "ANTHROPIC_BASE_URL": model.url}
    try:
        with running_sshd(1) as server:
            server.write_container_log("bench-api", "ERROR write failed: No space left\n" * 50)
            data = catalog(server, repository(remote))
            for scenario in scenarios:
                measured = [await measure(data, scenario, model) for _ in range(runs)]
                report(scenario, measured)
    finally:
        remote.stop()
        model.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", choices=["disk-full", "wide", "all"], default="all")
    args = parser.parse_args()
    scenarios = ["disk-full", "wide"] if args.scenario == "all" else [args.scenario]
    asyncio.run(bench(args.runs, scenarios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
