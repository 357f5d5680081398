"""``remediate silence add|list|expire``: ad hoc silences in the store beside the outbox."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from remediate.alerts import describe_validation_error
from remediate.controls.silences import MAX_SILENCE_S, Silence
from remediate.controls.store import SilenceStore, open_silences
from remediate.gateway.config import OUTBOX_FILE

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


class SilenceUsageError(Exception):
    """Bad input: the message names the option."""


def duration_s(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h`` or ``1d`` in seconds, within (0, 30 days]."""
    match = DURATION.match(text.strip())
    if match is None:
        raise SilenceUsageError(f"--duration: expected e.g. 30m, 2h or 1d, got {text!r}")
    seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    if not 0 < seconds <= MAX_SILENCE_S:
        raise SilenceUsageError(f"--duration: must be more than 0 and at most 30d, got {text!r}")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the gateway's data directory (default REMEDIATE_DATA_DIR or the stack's);"
        " REMEDIATE_OUTBOX_URL=postgresql://... selects the shared PostgreSQL outbox instead",
    )
    actions = parser.add_subparsers(dest="silence_action", required=True)
    add = actions.add_parser("add", help="silence alerts of a service and/or check for a while")
    add.add_argument("--service", help="catalog service (every service when absent)")
    add.add_argument("--check", default="*", help="check id pattern, shell-style (default *)")
    add.add_argument("--duration", required=True, help="how long, e.g. 30m, 2h, 1d (max 30d)")
    add.add_argument("--reason", required=True)
    add.add_argument("--by", default=None, help="who silences (default: the OS user)")
    add.add_argument("--json", action="store_true")
    listing = actions.add_parser("list", help="silences in force or still to come")
    listing.add_argument("--all", action="store_true", help="include ended and expired ones")
    listing.add_argument("--json", action="store_true")
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("silence_id")


def _state(silence: Silence, now: float) -> str:
    if silence.expired_at is not None and silence.expired_at <= now:
        return "expired"
    if silence.ends_at <= now:
        return "ended"
    return "active" if silence.active_at(now) else "scheduled"


def _when(at: float | None) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def _row(silence: Silence, now: float) -> dict[str, object]:
    return {**silence.model_dump(mode="json"), "state": _state(silence, now)}


async def _add(store: SilenceStore, args: argparse.Namespace, now: float) -> int:
    try:
        silence = Silence(
            id=Silence.new_id(),
            service=args.service,
            check=args.check,
            reason=args.reason,
            created_by=args.by or getpass.getuser(),
            starts_at=now,
            ends_at=now + duration_s(args.duration),
        )
    except ValidationError as exc:
        raise SilenceUsageError(describe_validation_error(exc, "silence")) from exc
    await store.add(silence)
    if args.json:
        print(json.dumps(_row(silence, now)))
    else:
        print(f"silence {silence.id} active until {_when(silence.ends_at)} UTC")
    return EXIT_OK


async def _list(store: SilenceStore, args: argparse.Namespace, now: float) -> int:
    silences = await store.listing(0.0 if args.all else now)
    if args.json:
        print(json.dumps([_row(s, now) for s in silences], indent=2))
        return EXIT_OK
    if not silences:
        print("no silence")
        return EXIT_OK
    print(f"{'id':<12}  {'state':<9} {'service':<16} {'check':<20} {'until (UTC)':<19}  by: reason")
    for s in silences:
        until = s.ends_at if s.expired_at is None else min(s.ends_at, s.expired_at)
        print(
            f"{s.id:<12}  {_state(s, now):<9} {(s.service or '*')[:16]:<16} {s.check[:20]:<20}"
            f" {_when(until):<19}  {s.created_by}: {s.reason}"
        )
    return EXIT_OK


async def _expire(store: SilenceStore, args: argparse.Namespace, now: float) -> int:
    silence = await store.expire(args.silence_id, now)
    if silence is None:
        raise SilenceUsageError(f"silence_id: no silence {args.silence_id!r}")
    ended = silence.expired_at or silence.ends_at
    print(f"silence {silence.id} {_state(silence, now)} at {_when(ended)} UTC")
    return EXIT_OK


async def run(args: argparse.Namespace, default_data_dir: Path) -> int:
    data_dir = args.data_dir or default_data_dir
    store = open_silences(os.environ.get("REMEDIATE_OUTBOX_URL"), data_dir / OUTBOX_FILE)
    handlers = {"add": _add, "list": _list, "expire": _expire}
    try:
        await store.open()
        try:
            return await handlers[args.silence_action](store, args, time.time())
        finally:
            await store.close()
    except SilenceUsageError as exc:
        print(f"remediate silence: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, sqlite3.Error) as exc:
        print(f"remediate silence: the silence store cannot be used: {exc}", file=sys.stderr)
        return EXIT_FAILED
