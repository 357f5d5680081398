"""Run Prefect's engine entry point in this process, as ``python -m prefect.engine`` would."""

from __future__ import annotations

import os
import runpy
import sys
import warnings
from datetime import UTC, datetime
from uuid import UUID

LOGGER_NAME = "remediate.warm"


def record(message: str, level: int) -> None:
    """One line in the flow run's logs in the API, before the engine takes over."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import LogCreate

    run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
    if not run_id:
        return
    log = LogCreate(
        name=LOGGER_NAME,
        level=level,
        message=message,
        timestamp=datetime.now(UTC),
        flow_run_id=UUID(run_id),
    )
    try:
        with get_client(sync_client=True) as client:
            client.create_logs([log])
    except Exception as exc:  # the run must start even if this line is lost
        print(f"{LOGGER_NAME}: could not record {message!r}: {exc}", file=sys.stderr)


def run_engine() -> int:
    """Prefect's engine as ``__main__``; its exit code. Returns instead of exiting so the
    caller ends through normal interpreter shutdown, which flushes the API logs."""
    sys.argv = [sys.argv[0]]
    # The warm parent imported prefect.engine already; running it as __main__ is the point.
    warnings.filterwarnings("ignore", "'prefect.engine' found in sys.modules", RuntimeWarning)
    try:
        runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return 0
