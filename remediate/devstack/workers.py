"""The ``remediate`` process work pool, its deployments and the warm launcher as its command.

``remediate up`` (re)writes the pool's base job template, registers the deployments of
``prefect.yaml`` with ``prefect deploy --all``, and starts a stock process worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

POOL = "remediate"
WARM_STARTS_ENV = "REMEDIATE_WARM_STARTS"
LAUNCHER_MODULE = "remediate.warm.launcher"
# How often the worker asks for scheduled runs: half of it is the mean wait of a new run.
QUERY_SECONDS = "0.25"
PREFETCH_SECONDS = "1"


class RegistrationError(Exception):
    pass


def warm_starts_enabled(env: dict[str, str]) -> bool:
    value = env.get(WARM_STARTS_ENV, "on").strip().lower()
    if value not in ("on", "off"):
        raise RegistrationError(f"{WARM_STARTS_ENV} must be 'on' or 'off', not {value!r}")
    return value == "on"


def job_command(warm: bool, python: str = sys.executable) -> str:
    """The command the worker runs per flow run: the warm launcher, or a cold engine."""
    return f"{python} -m {LAUNCHER_MODULE if warm else 'prefect.engine'}"


def base_job_template(command: str) -> dict[str, Any]:
    """Prefect's process job template with ``command`` as the default job command."""
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    template["variables"]["properties"]["command"]["default"] = command
    return template


def _prefect(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RegistrationError(
            f"`prefect {' '.join(args)}` failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-2000:]}"
        )


def register(env: dict[str, str], root: Path, work_dir: Path, warm: bool) -> None:
    """The pool (created or overwritten) and every deployment of ``prefect.yaml`` on it."""
    template_file = work_dir / "work-pool.json"
    template_file.write_text(json.dumps(base_job_template(job_command(warm)), indent=2))
    pool_args = ["work-pool", "create", POOL, "--type", "process"]
    _prefect([*pool_args, "--base-job-template", str(template_file), "--overwrite"], env, root, 120)
    _prefect(["deploy", "--all"], env, root, 300)


def worker_command(limit: int = 8) -> tuple[str, ...]:
    """The worker's command line, starting with the ``prefect`` console script."""
    return (
        "prefect",
        "worker",
        "start",
        "--pool",
        POOL,
        "--type",
        "process",
        "--limit",
        str(limit),
        "--prefetch-seconds",
        PREFETCH_SECONDS,
    )


def worker_args(limit: int = 8) -> list[str]:
    return [sys.executable, "-m", *worker_command(limit)]


def worker_settings(warm_socket: Path) -> dict[str, str]:
    return {
        "PREFECT_WORKER_QUERY_SECONDS": QUERY_SECONDS,
        "REMEDIATE_WARM_SOCKET": str(warm_socket),
    }


def worker_env(env: dict[str, str], warm_socket: Path) -> dict[str, str]:
    return env | worker_settings(warm_socket)


def worker_polling(api_url: str, headers: dict[str, str], count: int = 1) -> bool:
    """At least ``count`` workers of the pool are online (have sent their heartbeat)."""
    try:
        answer = httpx.post(
            f"{api_url}/work_pools/{POOL}/workers/filter",
            json={},
            headers=headers,
            timeout=2,
            trust_env=False,
        )
    except httpx.HTTPError:
        return False
    if answer.status_code != 200:
        return False
    return sum(1 for w in answer.json() if w.get("status") == "ONLINE") >= count


def socket_ready(path: Path) -> bool:
    return path.exists() and not path.is_dir() and os.access(path, os.W_OK)
