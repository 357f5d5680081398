"""The ``remediate`` command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from remediate.alerts import Alert, NotAnAlert, describe_validation_error
from remediate.approval import cli as approve_cli
from remediate.approval import retry as retry_cli
from remediate.approval.config import NotifyChannel
from remediate.catalog import CatalogError, load_catalog
from remediate.controls import audit_cli
from remediate.controls import cli as silence_cli
from remediate.devstack import stack
from remediate.runs.api import PrefectAPI, PrefectAPIError
from remediate.runs.auth import APIAuthError
from remediate.runs.links import flow_run_link
from remediate.runs.tags import Flag, Key, Publish, tag, tag_value, tag_values

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: exit code 2."""


def _err(message: str) -> None:
    print(f"remediate: {message}", file=sys.stderr)


def prefect_api() -> stack.ClientAPI:
    api = stack.client_api()
    if api is None:
        raise UsageError("no Prefect API: run `make up` or set PREFECT_API_URL")
    return api


def ui_url(api_url: str) -> str:
    return os.environ.get("PREFECT_UI_URL") or api_url.rstrip("/").removesuffix("/api")


def read_alert(source: str, catalog_file: str | None) -> Alert:
    where = "standard input" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UsageError(f"{where}: expected a JSON object, got {type(payload).__name__}")
    try:
        alert = Alert.from_sentinel(payload)
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc, where)) from exc
    except NotAnAlert as exc:
        raise UsageError(f"{where}: {exc}") from exc
    try:
        catalog = load_catalog(catalog_file)
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc
    return catalog.attribute(alert)


async def _send(args: argparse.Namespace) -> int:
    alert = read_alert(args.file, args.catalog)
    target = prefect_api()
    api_url = target.url
    async with PrefectAPI(api_url, timeout=30, attempts=3, credential=target.credential) as api:
        run = await api.submit_alert(alert)
    state = "created" if run.created else "already submitted"
    if args.json:
        print(json.dumps({"flow_run_id": run.id, "created": run.created, "name": run.name}))
    else:
        print(f"flow run {run.id} ({run.name}) {state}")
        print(flow_run_link(ui_url(api_url), run.id))
    return EXIT_OK


def _duration(run: dict[str, Any]) -> str:
    seconds = run.get("total_run_time") or 0.0
    if not seconds and run.get("start_time") and run.get("end_time"):
        start = datetime.fromisoformat(run["start_time"])
        seconds = (datetime.fromisoformat(run["end_time"]) - start).total_seconds()
    return f"{float(seconds):.1f}s"


def _fix_state(tags: list[str]) -> str:
    """What became of the run's fix: published, not published, or the decision."""
    published = tag_value(tags, Key.PUBLISH)
    if published == Publish.FAILED:
        return "NOT published"
    if published == Publish.PUBLISHED:
        return "published"
    return tag_value(tags, Key.APPROVAL) or "-"


def _control(tags: list[str]) -> str:
    """What a trust control did to the run: the window or silence it arrived in, the
    incident across services it joined, or what stopped its steps (the pause, a breaker)."""
    if Flag.SILENCED in tags:
        return f"silenced ({tag_value(tags, Key.SILENCE) or '?'})"
    if Flag.DRY_RUN in tags:
        would = tag_values(tags, Key.WOULD)
        return "dry run" + (f" (would: {', '.join(would)})" if would else "")
    parts = []
    if tag_value(tags, Key.INCIDENT_ROLE) in ("member", "late"):
        lead = (tag_value(tags, Key.INCIDENT) or "?")[:8]
        parts.append(f"incident of run {lead} ({tag_value(tags, Key.CORRELATED_BY) or '?'})")
    prefix = f"{Key.STOPPED_BY.value}:"
    stopped = sorted({t.removeprefix(prefix) for t in tags if t.startswith(prefix)})
    if stopped:
        parts.append("stopped: " + ", ".join(stopped))
    return "; ".join(parts) or "-"


async def _runs(args: argparse.Namespace) -> int:
    tags = [Flag.REMEDIATE.value] + ([tag(Key.SERVICE, args.service)] if args.service else [])
    target = prefect_api()
    async with PrefectAPI(target.url, timeout=30, attempts=3, credential=target.credential) as api:
        runs = await api.flow_runs(tags, limit=args.limit)
        issues = await api.link_artifacts([str(r["id"]) for r in runs])
    if args.json:
        rows = [
            {
                "id": r["id"],
                "alert": tag_value(r["tags"], Key.ALERT),
                "service": tag_value(r["tags"], Key.SERVICE),
                "state": r.get("state_name"),
                "fix": _fix_state(r["tags"]),
                "control": _control(r["tags"]),
                "issue": issues.get(str(r["id"])),
                "start_time": r.get("start_time"),
                "duration": _duration(r),
            }
            for r in runs
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    header = (
        f"{'started':<20} {'state':<10} {'duration':>9}  {'alert':<36} {'service':<12}"
        f" {'fix':<13} {'control':<28} issue"
    )
    print(header)
    for r in runs:
        started = (r.get("start_time") or r.get("expected_start_time") or "")[:19]
        print(
            f"{started:<20} {r.get('state_name') or '-':<10} {_duration(r):>9}  "
            f"{tag_value(r['tags'], Key.ALERT) or '-':<36} "
            f"{tag_value(r['tags'], Key.SERVICE) or '-':<12} {_fix_state(r['tags']):<13} "
            f"{_control(r['tags']):<28} {issues.get(str(r['id']), '-')}"
        )
    return EXIT_OK


def _age(since: str | None, now: datetime) -> str:
    if not since:
        return "-"
    seconds = int((now - datetime.fromisoformat(since)).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _waiting_for(tags: list[str]) -> str:
    if Flag.AWAITING_CAPACITY_APPROVAL in tags:
        return "capacity action"
    fix_waits = tag_value(tags, Key.FIX) == "proposed" and tag_value(tags, Key.APPROVAL) is None
    return "fix" if fix_waits else "runbook action"


async def _approvals(args: argparse.Namespace) -> int:
    target = prefect_api()
    async with PrefectAPI(target.url, timeout=30, attempts=3, credential=target.credential) as api:
        runs = await api.waiting_runs()
    now = datetime.now(UTC)
    rows = [
        {
            "id": r["id"],
            "name": r.get("name"),
            "waiting": _age((r.get("state") or {}).get("timestamp"), now),
            "service": tag_value(r["tags"], Key.SERVICE) or "-",
            "risk": tag_value(r["tags"], Key.RISK) or "-",
            "decision": _waiting_for(r["tags"]),
            "link": flow_run_link(ui_url(target.url), str(r["id"])),
        }
        for r in runs
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        print("no decision is waiting")
        return EXIT_OK
    print(
        f"{'waiting':>8}  {'decision':<15} {'service':<16} {'risk':<7} {'run':<50}"
        " open (menu ⋮ > Resume)"
    )
    for row in rows:
        print(
            f"{row['waiting']:>8}  {row['decision']:<15} {row['service'][:16]:<16}"
            f" {row['risk']:<7} {str(row['name'])[:50]:<50} {row['link']}"
        )
    return EXIT_OK


def _check_config(args: argparse.Namespace) -> int:
    try:
        catalog = load_catalog(args.path)
    except CatalogError as exc:
        raise UsageError(str(exc)) from exc
    names = ", ".join(s.name for s in catalog.services) or "none"
    print(f"{args.path or 'catalog'}: valid; {len(catalog.services)} service(s): {names}")
    return EXIT_OK


def _up(args: argparse.Namespace) -> int:
    config = stack.StackConfig.from_env()
    state = stack.up(config, profile=args.profile)
    print(f"Prefect UI:  {state.ui_url}")
    print(f"Prefect API: {state.prefect_api_url}")
    print(f"Demo service: {state.demo_url}")
    for gateway in state.gateway_urls or ([state.gateway_url] if state.gateway_url else []):
        print(f"Gateway:     {gateway}")
    print(f"Prefect login (UI and API): {state.api_credentials} (user:password)")
    print(f"Stack file:  {config.state_file}")
    print("Try: remediate send examples/sentinel-check-result.json")
    return EXIT_OK


def _down(args: argparse.Namespace) -> int:
    stack.down(stack.StackConfig.from_env())
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    flag = stack.StackConfig.from_env().data_dir / "demo" / "broken"
    if args.action == "break":
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.touch()
        print("demo service now answers 500 on /health")
    elif args.action == "fix":
        flag.unlink(missing_ok=True)
        print("demo service healthy again")
    else:
        print("broken" if flag.exists() else "healthy")
    return EXIT_OK


def _approve(args: argparse.Namespace) -> int:
    from remediate.approval.cli import run

    target = prefect_api() if args.api_url is None else None
    if target is not None:
        args.api_url = target.url
    return run(args, target.credential if target else None)


def _retry_publish(args: argparse.Namespace) -> int:
    if args.api_url is not None:
        return retry_cli.run(args.api_url, args.run_id)
    target = prefect_api()
    return retry_cli.run(target.url, args.run_id, target.credential)


def _silence(args: argparse.Namespace) -> Any:
    return silence_cli.run(args, stack.StackConfig.from_env().data_dir)


def _channels(catalog_file: str | None) -> list[NotifyChannel]:
    try:
        return load_catalog(catalog_file).approval.notify
    except CatalogError as exc:
        _err(f"{exc}; nobody is notified")
        return []


# The pause commands import Prefect (seconds); the other commands start without it.
async def _pause(args: argparse.Namespace) -> int:
    if not args.reason.strip() or len(args.reason) > 500:
        raise UsageError("--reason: give a reason of 1 to 500 characters")
    if args.by is not None and (not args.by.strip() or len(args.by) > 100):
        raise UsageError("--by: give a name of 1 to 100 characters")
    target = prefect_api()
    async with PrefectAPI(target.url, timeout=30, attempts=3, credential=target.credential) as api:
        from remediate.controls.pause_cli import pause_automation

        await pause_automation(
            api, args.by or getpass.getuser(), args.reason, _channels(args.catalog)
        )
    return EXIT_OK


async def _audit(args: argparse.Namespace) -> int:
    target = prefect_api()
    async with PrefectAPI(target.url, timeout=30, attempts=3, credential=target.credential) as api:
        try:
            return await audit_cli.run(args, api, stack.StackConfig.from_env().data_dir)
        except audit_cli.AuditUsageError as exc:
            raise UsageError(str(exc)) from exc


async def _resume(args: argparse.Namespace) -> int:
    target = prefect_api()
    async with PrefectAPI(target.url, timeout=30, attempts=3, credential=target.credential) as api:
        from remediate.controls.pause_cli import resume_automation

        await resume_automation(api, args.by or getpass.getuser(), _channels(args.catalog))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="remediate", description="Turn monitoring alerts into auditable remediation runs."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    send = commands.add_parser("send", help="submit an alert (Sentinel JSON) for remediation")
    send.add_argument("file", help="alert JSON file, or - for standard input")
    send.add_argument(
        "--catalog", help="catalog file (default: $REMEDIATE_CATALOG or remediate.yaml)"
    )
    send.add_argument("--json", action="store_true", help="print the result as JSON")
    send.set_defaults(handler=_send)

    runs = commands.add_parser("runs", help="list past remediation runs")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--service")
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=_runs)

    approvals = commands.add_parser(
        "approvals", help="list every decision waiting, oldest first, with its link"
    )
    approvals.add_argument("--json", action="store_true")
    approvals.set_defaults(handler=_approvals)

    check = commands.add_parser("check-config", help="validate a catalog file")
    check.add_argument("path", nargs="?", default=None)
    check.set_defaults(handler=_check_config)

    up = commands.add_parser("up", help="start the local stack")
    up.add_argument(
        "--profile",
        choices=stack.PROFILES,
        default="local",
        help="local: one of each on SQLite (default); scale: PostgreSQL and Redis, two API"
        " processes, two workers, two gateways (docs/scale.md)",
    )
    up.set_defaults(handler=_up)
    commands.add_parser("down", help="stop the local stack").set_defaults(handler=_down)

    commands.add_parser("gateway", help="serve the alert intake gateway (--help for options)")
    commands.add_parser("report", help="remediation metrics against the plan's targets (--help)")
    commands.add_parser(
        "result-storage", help="make $REMEDIATE_RESULTS_URL the API's default result storage"
    )

    approve = commands.add_parser("approve", help="approve or reject a proposed fix")
    approve_cli.add_arguments(approve)
    approve.set_defaults(handler=_approve)

    retry_publish = commands.add_parser(
        "retry-publish", help="publish an approved fix again after its publication failed"
    )
    retry_cli.add_arguments(retry_publish)
    retry_publish.set_defaults(handler=_retry_publish)

    silence = commands.add_parser(
        "silence", help="silence alerts for a while: add, list, expire (--help)"
    )
    silence_cli.add_arguments(silence)
    silence.set_defaults(handler=_silence)

    pause = commands.add_parser(
        "pause-automation",
        help="stop every fix and action at once (runs waiting for approval included)",
    )
    pause.add_argument("--reason", required=True)
    pause.add_argument("--by", help="who pauses (default: the OS user)")
    pause.add_argument("--catalog", help="catalog whose approval.notify channels are told")
    pause.set_defaults(handler=_pause)
    resume = commands.add_parser("resume-automation", help="let fixes and actions run again")
    resume.add_argument("--by", help="who resumes (default: the OS user)")
    resume.add_argument("--catalog", help="catalog whose approval.notify channels are told")
    resume.set_defaults(handler=_resume)

    audit = commands.add_parser(
        "audit", help="export every decision, action, stop and silence (jsonl or csv)"
    )
    audit_cli.add_arguments(audit)
    audit.set_defaults(handler=_audit)

    demo = commands.add_parser("demo", help="make the demo service fail or recover")
    demo.add_argument("action", choices=["break", "fix", "status"])
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gateway"]:
        from remediate.gateway.server import main as gateway_main

        return gateway_main(argv[1:])
    if argv[:1] == ["report"]:
        from remediate.reporting.cli import report_main

        return report_main(argv[1:])
    if argv[:1] == ["result-storage"]:
        from remediate.runs.result_storage import main as result_storage_main

        return result_storage_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result)
    except UsageError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    except PrefectAPIError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT if exc.status in (409, 422) else EXIT_FAILED
    except APIAuthError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    except stack.StackError as exc:
        _err(str(exc))
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
