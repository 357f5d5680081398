"""Run Prefect's engine entry point in this process, as ``python -m prefect.engine`` would."""

from __future__ import annotations

import logging
import os
import runpy
import sys
import warnings

LOGGER_NAME = "remediate.warm"


def record(message: str, level: int) -> None:
    """One line in the flow run's logs in the API, before the engine takes over. It goes
    through Prefect's API log handler, so it is sent in the background with the run's other
    lines and flushed at exit like them."""
    from prefect.logging.handlers import APILogHandler

    run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
    print(f"{LOGGER_NAME}: {message}", file=sys.stderr, flush=True)
    if not run_id:
        return
    line = logging.getLogger(LOGGER_NAME).makeRecord(
        LOGGER_NAME, level, __file__, 0, message, (), None, extra={"flow_run_id": run_id}
    )
    APILogHandler().handle(line)


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
