"""``remediate report [--since 7d] [--json]``: the plan's metrics from run history."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from remediate.reporting.history import HistoryError
from remediate.reporting.period import build_report, parse_window
from remediate.reporting.render import terminal_table
from remediate.runs.auth import APIAuthError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", default="7d", help="window to report on: 7d, 24h, 30m")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def report_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="remediate report", description="Remediation metrics from run history."
    )
    add_arguments(parser)
    args = parser.parse_args(list(argv))
    try:
        window = parse_window(args.since)
    except ValueError as exc:
        print(f"remediate: {exc}", file=sys.stderr)
        return 2
    from remediate.devstack import stack

    try:
        target = stack.client_api()
    except APIAuthError as exc:
        print(f"remediate: {exc}", file=sys.stderr)
        return 2
    if target is None:
        print("remediate: no Prefect API: run `make up` or set PREFECT_API_URL", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(build_report(target.url, window, target.credential))
    except (HistoryError, APIAuthError) as exc:
        print(f"remediate: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        print(terminal_table(report))
    return 0
