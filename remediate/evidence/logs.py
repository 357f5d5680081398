"""Read a service's logs over SSH from verified hosts, bounded in time and size, redacted.

Commands are built only from catalog values and quoted with ``shlex``. Each host gets one
connection, reused for all its log sources, with at most ``per_host_concurrency`` commands
at once. Whatever goes wrong on a host (down, wrong key, refused login, hang) is recorded
in the result instead of raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import time
from datetime import UTC, datetime
from typing import Any

import asyncssh

from remediate.evidence.config import EvidenceConfig, EvidenceLimits, LogSource, SSHHost
from remediate.evidence.models import LogBundle, LogFailure, LogSourceResult
from remediate.evidence.ssh_connect import (
    CredentialError,
    KeyLoader,
    connect,
    describe_ssh_error,
    load_client_key,
)
from remediate.redaction import Redactor

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def build_argv(source: LogSource, evidence: EvidenceConfig) -> list[str]:
    if source.kind == "container" and source.container is not None:
        return [
            "docker",
            "logs",
            "--tail",
            str(source.lines),
            "--since",
            f"{source.since_minutes}m",
            source.container,
        ]
    if source.kind == "systemd" and source.unit is not None:
        return [
            "journalctl",
            "-u",
            source.unit,
            f"--since=-{source.since_minutes}min",
            "-n",
            str(source.lines),
            "--no-pager",
        ]
    if source.kind == "file" and source.path is not None:
        return ["tail", "-n", str(source.lines), "--", source.path]
    if source.kind == "custom" and source.command is not None:
        return list(evidence.commands[source.command])
    raise ValueError(f"log {source.name}: kind {source.kind} is missing its target")


def build_command(source: LogSource, evidence: EvidenceConfig) -> str:
    return shlex.join(build_argv(source, evidence))


def _classify(exc: BaseException) -> LogFailure:
    if isinstance(exc, CredentialError):
        return LogFailure.CREDENTIALS
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return LogFailure.HOST_KEY
    if isinstance(exc, asyncssh.PermissionDenied):
        return LogFailure.AUTH
    if isinstance(exc, TimeoutError):
        return LogFailure.TIMEOUT
    if isinstance(exc, OSError):
        return LogFailure.CONNECT
    return LogFailure.SSH


class _Capture:
    """Keeps the last ``keep`` bytes (or the first, for stderr) of a stream it counts in full."""

    def __init__(self, keep: int, tail: bool) -> None:
        self.keep = keep
        self.tail = tail
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.tail:
            self.data += chunk
            if len(self.data) > self.keep:
                del self.data[: len(self.data) - self.keep]
        elif len(self.data) < self.keep:
            self.data += chunk[: self.keep - len(self.data)]

    @property
    def cut(self) -> bool:
        return self.total > self.keep


async def _pump(
    stream: asyncssh.SSHReader[bytes], capture: _Capture, read_limit: int, full: asyncio.Event
) -> None:
    while not full.is_set():
        chunk = await stream.read(65_536)
        if not chunk:
            return
        capture.add(chunk)
        if capture.total >= read_limit:
            full.set()


async def _read_both(
    process: asyncssh.SSHClientProcess[bytes],
    out: _Capture,
    err: _Capture,
    read_limit: int,
    full: asyncio.Event,
) -> None:
    """Read stdout and stderr to their end, or until together they pass ``read_limit``."""
    pumps = asyncio.gather(
        _pump(process.stdout, out, read_limit, full),
        _pump(process.stderr, err, read_limit, full),
    )
    limit = asyncio.ensure_future(full.wait())
    try:
        jobs: set[asyncio.Future[Any]] = {pumps, limit}
        await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
        if pumps.done():
            pumps.result()
    finally:
        for job in (pumps, limit):
            job.cancel()
        await asyncio.gather(pumps, limit, return_exceptions=True)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n")
    text = _ANSI.sub("", text)
    return _CONTROL.sub("", text)


def _shape_lines(
    raw: bytes,
    byte_cut: bool,
    stopped: bool,
    total: int,
    limits: EvidenceLimits,
    redactor: Redactor,
) -> tuple[list[str], bool]:
    text = _clean(redactor(raw.decode("utf-8", errors="replace")))
    lines = text.split("\n")
    if lines and (lines[-1] == "" or stopped):
        lines.pop()
    if byte_cut and lines:
        lines.pop(0)
    line_cut = len(lines) > limits.max_lines
    if line_cut:
        lines = lines[-limits.max_lines :]
    lines = [
        line if len(line) <= limits.max_line_chars else line[: limits.max_line_chars] + " [cut]"
        for line in lines
    ]
    if byte_cut or line_cut:
        seen = f"at least {total} bytes" if byte_cut else f"{total} bytes"
        lines.insert(
            0,
            f"[... output truncated: showing the last {len(lines)} lines of {seen};"
            f" limits {limits.max_bytes} bytes, {limits.max_lines} lines ...]",
        )
    return lines, byte_cut or line_cut


async def _run_source(
    conn: asyncssh.SSHClientConnection,
    gate: asyncio.Semaphore,
    host: SSHHost,
    source: LogSource,
    command: str,
    limits: EvidenceLimits,
    redactor: Redactor,
) -> LogSourceResult:
    async with gate:
        started = time.perf_counter()
        out = _Capture(limits.max_bytes, tail=True)
        err = _Capture(limits.stderr_max_bytes, tail=False)
        full = asyncio.Event()
        failure: LogFailure | None = None
        error: str | None = None
        exit_status: int | None = None
        exit_signal: str | None = None
        process: asyncssh.SSHClientProcess[bytes] | None = None
        try:
            async with asyncio.timeout(limits.command_timeout_s):
                process = await conn.create_process(command, encoding=None)
                process.stdin.write_eof()
                read_limit = limits.max_bytes * limits.read_factor
                await _read_both(process, out, err, read_limit, full)
                if not full.is_set():
                    await process.wait_closed()
                    exit_status = process.exit_status
                    signal = process.exit_signal
                    exit_signal = signal[0] if signal else None
        except (TimeoutError, asyncssh.Error, OSError) as exc:
            failure, error = _classify(exc), describe_ssh_error(exc)
            if isinstance(exc, TimeoutError):
                error = f"command did not finish within {limits.command_timeout_s:g} s"
        finally:
            if process is not None and (full.is_set() or failure is not None):
                await _stop(process)
        byte_cut = full.is_set() or out.cut
        lines, truncated = _shape_lines(
            bytes(out.data), byte_cut, full.is_set(), out.total, limits, redactor
        )
        stderr = _clean(redactor(bytes(err.data).decode("utf-8", errors="replace")))
        if err.cut:
            stderr += f"\n[... stderr truncated after {limits.stderr_max_bytes} bytes ...]"
        return LogSourceResult(
            host=host.name,
            endpoint=host.endpoint,
            source=source.name,
            kind=source.kind,
            command=redactor(command),
            exit_status=exit_status,
            exit_signal=exit_signal,
            lines=lines,
            stderr=stderr.strip(),
            truncated=truncated,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            failure=failure,
            error=redactor(error) if error else None,
        )


async def _stop(process: asyncssh.SSHClientProcess[bytes]) -> None:
    """Ask the remote side to end the command, then close the channel."""
    with contextlib.suppress(OSError, asyncssh.Error):
        process.send_signal("KILL")
    process.close()
    try:
        async with asyncio.timeout(2):
            await process.wait_closed()
    except (TimeoutError, OSError, asyncssh.Error):
        pass


def _failed(
    host: SSHHost,
    plan: list[tuple[LogSource, str]],
    exc: BaseException,
    started: float,
    redactor: Redactor,
) -> list[LogSourceResult]:
    failure, error = _classify(exc), redactor(describe_ssh_error(exc))
    duration = round((time.perf_counter() - started) * 1000, 1)
    return [
        LogSourceResult(
            host=host.name,
            endpoint=host.endpoint,
            source=source.name,
            kind=source.kind,
            command=redactor(command),
            duration_ms=duration,
            failure=failure,
            error=error,
        )
        for source, command in plan
    ]


async def collect_host(
    host: SSHHost,
    sources: list[LogSource],
    evidence: EvidenceConfig,
    redactor: Redactor,
    load_key: KeyLoader = load_client_key,
) -> list[LogSourceResult]:
    plan = [(source, build_command(source, evidence)) for source in sources]
    if not plan:
        return []
    limits = evidence.limits
    started = time.perf_counter()
    try:
        conn = await connect(host, limits, load_key)
    except (CredentialError, TimeoutError, asyncssh.Error, OSError) as exc:
        return _failed(host, plan, exc, started, redactor)
    gate = asyncio.Semaphore(limits.per_host_concurrency)
    async with conn:
        results = await asyncio.gather(
            *(
                _run_source(conn, gate, host, source, command, limits, redactor)
                for source, command in plan
            )
        )
    return list(results)


def sources_on(host: SSHHost, logs: list[LogSource]) -> list[LogSource]:
    return [source for source in logs if not source.hosts or host.name in source.hosts]


async def collect_service_logs(
    service: str,
    hosts: list[SSHHost],
    logs: list[LogSource],
    evidence: EvidenceConfig,
    redactor: Redactor,
    load_key: KeyLoader = load_client_key,
) -> LogBundle:
    collected_at = datetime.now(UTC)
    started = time.perf_counter()
    per_host = await asyncio.gather(
        *(collect_host(h, sources_on(h, logs), evidence, redactor, load_key) for h in hosts)
    )
    return LogBundle(
        service=service,
        sources=[result for results in per_host for result in results],
        collected_at=collected_at,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
