"""``remediate audit --since 7d --format jsonl|csv``: every decision, action run, stop by a
control, pause and silence since a moment, oldest first, from Prefect's run history (the
``remediate-audit`` artifacts) and the silences beside the outbox."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remediate.controls.store import open_silences
from remediate.gateway.config import OUTBOX_FILE
from remediate.runs.api import PrefectAPI

if TYPE_CHECKING:
    from remediate.controls.audit import AuditEntry

PAGE = 200
SINCE = re.compile(r"^(\d+)([mhd])$")
UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_SINCE_S = 3660 * 86400


class AuditUsageError(Exception):
    """Bad input: the message names the option."""


def since_of(text: str, now: datetime) -> datetime:
    """``30m``, ``12h``, ``7d`` before ``now``, or an ISO 8601 time (UTC when no zone)."""
    match = SINCE.match(text.strip())
    if match is not None:
        seconds = int(match.group(1)) * UNITS[match.group(2)]
        if not 0 < seconds <= MAX_SINCE_S:
            raise AuditUsageError(f"--since: must be more than 0 and at most 3660d, got {text!r}")
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AuditUsageError(
            f"--since: expected e.g. 7d, 12h, 30m or 2026-11-01T00:00:00, got {text!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The audit model imports Prefect (seconds); other commands load this module for its arguments.
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", default="7d", help="7d, 12h, 30m or an ISO time (default 7d)")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--output", type=Path, help="write here instead of standard output")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the gateway's data directory, for silences (as for `remediate silence`)",
    )


def _created(found: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(found["created"]))


async def run_entries(api: PrefectAPI, since: datetime) -> list[AuditEntry]:
    """The audit artifacts created since ``since``, joined with their runs' tags."""
    from remediate.controls.audit import AUDIT_KEY, from_artifact

    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = await api.artifacts_with_key(AUDIT_KEY, offset, PAGE)
        found += [a for a in page if _created(a) >= since]
        if len(page) < PAGE or _created(page[-1]) < since:
            break
        offset += PAGE
    ids = sorted({str(a["flow_run_id"]) for a in found if a.get("flow_run_id")})
    runs: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), PAGE):
        for run in await api.flow_runs_by_id(ids[start : start + PAGE]):
            runs[str(run["id"])] = run
    entries = (from_artifact(a, runs) for a in found)
    return [e for e in entries if e is not None and e.at >= since]


async def silences_since(data_dir: Path, since: datetime) -> list[AuditEntry]:
    from remediate.controls.audit import silence_entries

    store = open_silences(os.environ.get("REMEDIATE_OUTBOX_URL"), data_dir / OUTBOX_FILE)
    await store.open()
    try:
        silences = await store.listing(0.0)
    finally:
        await store.close()
    return [e for e in silence_entries(silences) if e.at >= since]


async def export(api: PrefectAPI, data_dir: Path, since: datetime, form: str) -> tuple[str, int]:
    """The export's text and how many entries it holds."""
    from remediate.controls.audit import csv_text, jsonl

    entries = await run_entries(api, since) + await silences_since(data_dir, since)
    entries.sort(key=lambda e: (e.at, e.kind.value, e.run_id, e.subject))
    return (csv_text(entries) if form == "csv" else jsonl(entries)), len(entries)


async def run(args: argparse.Namespace, api: PrefectAPI, default_data_dir: Path) -> int:
    since = since_of(args.since, datetime.now(UTC))
    text, count = await export(api, args.data_dir or default_data_dir, since, args.format)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"{count} audit entries since {since:%Y-%m-%d %H:%M:%S} UTC -> {args.output}")
    return 0
