"""Flows the warm-worker tests deploy on their own work pool."""

from __future__ import annotations

import os
import time

from prefect import flow, get_run_logger, task
from prefect.flow_runs import suspend_flow_run

from remediate.approval.form import Approval

LOG_LINES = 40


@task
def count(n: int) -> int:
    get_run_logger().info("counted %d", n)
    return n


@flow(name="warm-chatty")
def chatty(lines: int = LOG_LINES) -> int:
    logger = get_run_logger()
    for n in range(lines):
        logger.info("line %d of %d", n + 1, lines)
    return sum(count(n) for n in range(3))


@flow(name="warm-where")
def where(hold_seconds: float = 0.0) -> dict[str, str]:
    """Where the run is: its marker variable, working directory and Prefect API URL."""
    from prefect.settings import get_current_settings

    seen = {
        "mark": os.environ.get("WARM_TEST_MARK", ""),
        "cwd": os.getcwd(),
        "api": str(get_current_settings().api.url),
        "pid": str(os.getpid()),
    }
    get_run_logger().info("seen %s", seen)
    time.sleep(hold_seconds)
    return seen


@flow(name="warm-sleeper")
def sleeper(seconds: float = 600) -> None:
    get_run_logger().info("sleeping in pid %d", os.getpid())
    time.sleep(seconds)


@flow(name="warm-gate", persist_result=True)
def gate() -> str:
    get_run_logger().info("before the gate")
    decision = suspend_flow_run(wait_for_input=Approval, timeout=600, key="approval")
    get_run_logger().info("decided by %s: approved=%s", decision.approver, decision.approved)
    return decision.approver
