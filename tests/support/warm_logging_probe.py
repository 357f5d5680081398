"""Preloaded into a warm parent (``--module``): each forked child reports the effective level
of Prefect's flow-run logger on stderr instead of running the engine, so a test can see
which logging configuration a run would get without a Prefect server."""

from __future__ import annotations

import logging
import sys

import __main__


def report_level() -> int:
    level = logging.getLogger("prefect.flow_runs").getEffectiveLevel()
    print(f"flow-run logger level {level}", file=sys.stderr, flush=True)
    return 0


__main__.run_engine = report_level  # the parent runs as __main__ and calls run_engine
