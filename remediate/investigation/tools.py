"""The only things an investigation session can do: named catalog reads, each recorded.

Every input is checked here (names against the catalog pattern and then against the
service's own hosts, log sources, commands, endpoints, dependencies and metrics; numbers
against their bounds) before anything is run. Nothing the model sends reaches a shell: a
command is the catalog's argument list, quoted by the evidence code. A refused call is
answered as an error the model can read and recorded like every other call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remediate.capacity.collect import sample_host, sample_prometheus
from remediate.catalog import Catalog, Service
from remediate.diagnosis.dependencies import tcp_check
from remediate.diagnosis.probes import probe
from remediate.evidence.config import NAME_PATTERN, LogSource, SSHHost
from remediate.evidence.logs import collect_host, sources_on
from remediate.evidence.models import LogSourceResult
from remediate.evidence.ssh_connect import KeyLoader, load_client_key
from remediate.fixer.pull_request import clone_token
from remediate.investigation.commits import Commit, CommitsError, recent_commits
from remediate.investigation.config import InvestigationConfig
from remediate.investigation.metric_range import RangeError, read_range
from remediate.investigation.models import ToolCall
from remediate.redaction import Redactor
from remediate.rollback.github_releases import read_service_deployments
from remediate.rollback.ssh_releases import read_releases


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CommandInput(_Input):
    host: str = Field(pattern=NAME_PATTERN, description="host name (string)")
    command: str = Field(pattern=NAME_PATTERN, description="evidence command name (string)")


class LogInput(_Input):
    host: str = Field(pattern=NAME_PATTERN, description="host name (string)")
    source: str = Field(pattern=NAME_PATTERN, description="log source name (string)")
    lines: int = Field(default=200, ge=1, description="how many last lines (integer)")


class ProbeInput(_Input):
    target: str = Field(pattern=NAME_PATTERN, description="endpoint or dependency name")


class MetricInput(_Input):
    metric: str = Field(pattern=NAME_PATTERN, description="metric name (string)")


class MetricRangeInput(_Input):
    metric: str = Field(pattern=NAME_PATTERN, description="metric name (string)")
    minutes: int = Field(default=60, ge=1, description="how many minutes back (integer)")
    step_s: int = Field(default=60, ge=1, le=86_400, description="seconds per point (integer)")


class CommitsInput(_Input):
    count: int = Field(default=10, ge=1, description="how many recent commits (integer)")


class NoInput(_Input):
    pass


class Refused(Exception):
    """A call the catalog does not allow; the message is what the model is told."""


def _bad_input(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "input"
        problems.append(f"{where}: {error['msg']}")
    return "bad parameter: " + "; ".join(problems)


def _shown_input(raw: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """A refused call's input as it is recorded: redacted, each value cut short."""
    return {
        redactor(str(key))[:80]: redactor(json.dumps(value, default=str))[:300]
        for key, value in list(raw.items())[:20]
    }


def _log_text(result: LogSourceResult) -> str:
    head = f"host {result.host}, {result.kind} {result.source}"
    if result.failure is not None or result.exit_status != 0:
        status = result.error or result.failure or f"exit {result.exit_status}"
        head = f"failed: {head} ({status})"
    body = "\n".join(result.lines)
    if result.stderr:
        body += f"\n[stderr]\n{result.stderr}"
    return f"{head}\n{body}".rstrip()


Handler = Callable[[dict[str, Any]], Awaitable[str]]


def wire_schema(inputs: type[BaseModel]) -> dict[str, Any]:
    """The parameter names only: no types or patterns, so that every input reaches the
    checks here and a refusal is recorded, instead of the MCP layer rejecting it unseen."""
    properties = {
        name: {"description": field.description or name}
        for name, field in inputs.model_fields.items()
    }
    return {"type": "object", "properties": properties}


class Toolbox:
    """The catalog reads of one service, and the record of every call made through them."""

    def __init__(
        self,
        service: Service,
        catalog: Catalog,
        config: InvestigationConfig,
        redactor: Redactor,
        load_key: KeyLoader = load_client_key,
    ) -> None:
        self.service = service
        self.catalog = catalog
        self.config = config
        self.redactor = redactor
        self.load_key = load_key
        self.calls: list[ToolCall] = []
        self._commits: list[Commit] | None = None
        targets = [e.name for e in service.health] + [d.name for d in service.dependencies]
        ranged = [m.name for m in service.metrics if m.kind == "prometheus"]
        self.handlers: dict[str, tuple[str, type[_Input], Handler]] = {
            "run_command": (
                "Run a catalog evidence command on a host of the service. "
                "Input: host (string, a host name), command (string, a command name). "
                f"Commands: {', '.join(sorted(catalog.evidence.commands)) or 'none'}. "
                f"Hosts: {', '.join(h.name for h in service.hosts) or 'none'}.",
                CommandInput,
                self._run_command,
            ),
            "read_log": (
                "Read the last lines of a catalog log source on a host of the service. "
                "Input: host (string), source (string, a log source name), lines "
                f"(integer, 1 to {config.max_log_lines}). "
                f"Sources: {', '.join(s.name for s in service.logs) or 'none'}.",
                LogInput,
                self._read_log,
            ),
            "probe": (
                "Probe a health endpoint or a dependency of the service now. "
                "Input: target (string, an endpoint or dependency name). Targets: "
                f"{', '.join(targets) or 'none'}.",
                ProbeInput,
                self._probe,
            ),
            "read_metric": (
                "Read the current value of a catalog metric of the service. "
                "Input: metric (string, a metric name). "
                f"Metrics: {', '.join(m.name for m in service.metrics) or 'none'}.",
                MetricInput,
                self._read_metric,
            ),
            "read_metric_range": (
                "Read a catalog Prometheus metric of the service over a recent range. "
                "Input: metric (string), minutes (integer, 1 to "
                f"{config.max_range_minutes}), step_s (integer seconds per point; at most "
                f"{config.max_range_points} points: minutes*60/step_s). Metrics: "
                f"{', '.join(ranged) or 'none'}.",
                MetricRangeInput,
                self._read_metric_range,
            ),
            "recent_commits": (
                "List the newest commits of the service's repository (subject, author, date, "
                f"files changed). Input: count (integer, 1 to {config.max_commits}). "
                + (
                    f"Repository: {service.repository.full_name}."
                    if service.repository is not None
                    else "This service has no repository."
                ),
                CommitsInput,
                self._recent_commits,
            ),
            "list_releases": (
                "List the service's recent releases and which one is live (no input).",
                NoInput,
                self._list_releases,
            ),
        }

    def record(
        self, tool: str, shown: dict[str, Any], *, output: str, ok: bool, refused: bool = False
    ) -> ToolCall:
        text = self.redactor(output)
        limit = self.config.max_output_chars
        if len(text) > limit:
            text = "[earlier output cut]\n" + text[-limit:]
        call = ToolCall(
            id=f"call-{len(self.calls) + 1}",
            tool=tool,
            input=shown,
            refused=refused,
            ok=ok and not refused,
            output=text,
        )
        self.calls.append(call)
        return call

    def answered(self) -> int:
        return sum(1 for c in self.calls if c.tool in self.handlers)

    async def call(self, tool: str, raw: dict[str, Any]) -> ToolCall:
        """Check, run and record one call; never raises for anything the model sent."""
        entry = self.handlers.get(tool)
        shown = _shown_input(raw, self.redactor)
        if entry is None:
            return self.record(
                tool, shown, output=f"refused: unknown tool {tool}", ok=False, refused=True
            )
        if self.answered() >= self.config.max_calls:
            return self.record(
                tool,
                shown,
                output=f"refused: the limit of {self.config.max_calls} tool calls is reached",
                ok=False,
                refused=True,
            )
        try:
            output = await entry[2](raw)
        except ValidationError as exc:
            return self.record(
                tool, shown, output=f"refused: {_bad_input(exc)}", ok=False, refused=True
            )
        except Refused as exc:
            return self.record(tool, shown, output=f"refused: {exc}", ok=False, refused=True)
        return self.record(tool, dict(raw), output=output, ok=not output.startswith("failed"))

    def _host(self, name: str) -> SSHHost:
        host = next((h for h in self.service.hosts if h.name == name), None)
        if host is None:
            raise Refused(f"unknown host {name!r} for service {self.service.name}")
        return host

    async def _run_command(self, raw: dict[str, Any]) -> str:
        args = CommandInput.model_validate(raw)
        host = self._host(args.host)
        if args.command not in self.catalog.evidence.commands:
            raise Refused(f"unknown command {args.command!r}: not in evidence.commands")
        source = LogSource(name=args.command, kind="custom", command=args.command)
        results = await collect_host(
            host, [source], self.catalog.evidence, self.redactor, self.load_key
        )
        return _log_text(results[0])

    async def _read_log(self, raw: dict[str, Any]) -> str:
        args = LogInput.model_validate(raw)
        host = self._host(args.host)
        if args.lines > self.config.max_log_lines:
            raise Refused(f"lines must be at most {self.config.max_log_lines}")
        source = next(
            (s for s in sources_on(host, self.service.logs) if s.name == args.source), None
        )
        if source is None:
            raise Refused(f"unknown log source {args.source!r} on host {host.name}")
        if source.kind != "custom":
            source = source.model_copy(update={"lines": args.lines})
        results = await collect_host(
            host, [source], self.catalog.evidence, self.redactor, self.load_key
        )
        return _log_text(results[0])

    async def _probe(self, raw: dict[str, Any]) -> str:
        args = ProbeInput.model_validate(raw)
        endpoint = next((e for e in self.service.health if e.name == args.target), None)
        if endpoint is not None:
            async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
                result = await probe(client, self.service.name, endpoint)
            state = "healthy" if result.healthy else f"unhealthy ({result.failure})"
            detail = f"; {result.error}" if result.error else ""
            return (
                f"endpoint {endpoint.name}: {state}, status {result.status_code}, "
                f"expected {result.expected_status}, {result.latency_ms} ms{detail}"
            )
        dependency = next((d for d in self.service.dependencies if d.name == args.target), None)
        if dependency is None:
            raise Refused(f"unknown endpoint or dependency {args.target!r}")
        check = await tcp_check(self.service.name, dependency, self.catalog.diagnosis)
        state = "reachable" if check.ok else "unreachable"
        detail = check.detail or check.error or ""
        return f"dependency {dependency.name} ({check.target}): {state}; {detail}".rstrip("; ")

    async def _read_metric(self, raw: dict[str, Any]) -> str:
        args = MetricInput.model_validate(raw)
        metric = self.service.metric(args.metric)
        if metric is None:
            raise Refused(f"unknown metric {args.metric!r} for service {self.service.name}")
        if metric.kind == "prometheus":
            sample = await sample_prometheus(metric)
        else:
            host = self._host(metric.host or self.service.hosts[0].name)
            sample = (await sample_host(host, [metric], self.catalog.evidence, self.load_key))[0]
        if sample.value is None:
            return f"failed: metric {metric.name} on {sample.host}: {sample.error}"
        return (
            f"metric {metric.name} on {sample.host} at {sample.at.isoformat()}: "
            f"{sample.value:g} (threshold {metric.threshold:g})"
        )

    async def _read_metric_range(self, raw: dict[str, Any]) -> str:
        args = MetricRangeInput.model_validate(raw)
        metric = self.service.metric(args.metric)
        if metric is None:
            raise Refused(f"unknown metric {args.metric!r} for service {self.service.name}")
        if metric.kind != "prometheus":
            raise Refused(
                f"metric {metric.name} is read over SSH ({metric.kind}): only its current "
                "value can be read (read_metric)"
            )
        if args.minutes > self.config.max_range_minutes:
            raise Refused(f"minutes must be at most {self.config.max_range_minutes}")
        points = args.minutes * 60 // args.step_s
        if points > self.config.max_range_points:
            least = -(-args.minutes * 60 // self.config.max_range_points)
            raise Refused(
                f"{points} points asked; at most {self.config.max_range_points}: "
                f"use step_s of at least {least} for {args.minutes} minutes"
            )
        try:
            return await read_range(metric, args.minutes, args.step_s, self.config.max_range_points)
        except RangeError as exc:
            return f"failed: metric {metric.name}: {exc}"

    async def _recent_commits(self, raw: dict[str, Any]) -> str:
        args = CommitsInput.model_validate(raw)
        repository = self.service.repository
        if repository is None:
            raise Refused(f"service {self.service.name} has no repository")
        if args.count > self.config.max_commits:
            raise Refused(f"count must be at most {self.config.max_commits}")
        if self._commits is None:
            token = clone_token(self.catalog, self.service)
            try:
                self._commits = await recent_commits(repository, self.config.max_commits, token)
            except CommitsError as exc:
                return f"failed: repository {repository.full_name}: {exc}"
        commits = self._commits[: args.count]
        lines = [
            f"{len(commits)} newest commits of {repository.full_name} "
            f"branch {repository.default_branch}, newest first"
        ]
        lines += [commit.text() for commit in commits]
        return "\n".join(lines)

    async def _list_releases(self, raw: dict[str, Any]) -> str:
        NoInput.model_validate(raw)
        source = self.service.releases
        if source is None:
            raise Refused(f"service {self.service.name} has no releases section")
        if source.github is not None:
            read = await read_service_deployments(self.service, source, self.catalog.tracker)
        else:
            read = await read_releases(
                self.service, source, self.catalog.evidence.limits, self.load_key
            )
        if read.listing is None:
            return f"failed: releases from {read.host}: {read.error}"
        listing = read.listing
        lines = [
            f"releases from {read.host}, current {listing.current} "
            f"live since {listing.deployed_at.isoformat()}"
        ]
        lines += [f"{r.id} created {r.created_at.isoformat()}" for r in listing.releases[-20:]]
        return "\n".join(lines)
