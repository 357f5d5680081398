"""A cold start by the launcher: records why in the run's logs, then runs the engine."""

from __future__ import annotations

import logging
import os

from remediate.warm.engine import record, run_engine
from remediate.warm.protocol import FALLBACK_ENV


def main() -> int:
    reason = os.environ.pop(FALLBACK_ENV, "no reason given")
    record(f"cold start (no warm parent): {reason}", logging.WARNING)
    return run_engine()


if __name__ == "__main__":
    raise SystemExit(main())
