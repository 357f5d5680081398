"""Sample metrics over SSH. Commands come only from catalog values, quoted with ``shlex``."""

from __future__ import annotations

import asyncio
import shlex
from datetime import UTC, datetime

import asyncssh
import httpx
from pydantic import BaseModel, ConfigDict

from remediate.capacity.config import MetricSpec
from remediate.evidence.config import EvidenceConfig, SSHHost
from remediate.evidence.ssh_connect import CredentialError, KeyLoader, connect, load_client_key

OUTPUT_LIMIT = 64_000


class MetricError(ValueError):
    """A sample could not be taken or read; the message names the metric."""


class Sample(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    host: str
    at: datetime
    value: float | None
    error: str | None = None


def build_argv(metric: MetricSpec, evidence: EvidenceConfig) -> list[str]:
    if metric.kind == "filesystem" and metric.path:
        return ["df", "-P", "-B1", "--", metric.path]
    if metric.kind == "inodes" and metric.path:
        return ["df", "-P", "-i", "--", metric.path]
    if metric.kind == "path_size" and metric.path:
        return ["du", "-s", "-b", "--", metric.path]
    if metric.kind == "memory":
        return ["cat", "/proc/meminfo"]
    if metric.kind == "command" and metric.command:
        if metric.command not in evidence.commands:
            raise MetricError(f"metric {metric.name}: command {metric.command} not in catalog")
        return list(evidence.commands[metric.command])
    raise MetricError(f"metric {metric.name}: kind {metric.kind} is missing its target")


def _number(text: str, metric: MetricSpec) -> float:
    try:
        return float(text)
    except ValueError:
        raise MetricError(f"metric {metric.name}: expected a number, got {text[:80]!r}") from None


def _df_percent(output: str, metric: MetricSpec) -> float:
    lines = [line.split() for line in output.strip().splitlines()]
    if len(lines) < 2 or len(lines[-1]) < 4:
        raise MetricError(f"metric {metric.name}: unexpected df output")
    used, free = _number(lines[-1][2], metric), _number(lines[-1][3], metric)
    if used + free <= 0:
        raise MetricError(f"metric {metric.name}: df reports no capacity")
    return 100 * used / (used + free)


def _memory_percent(output: str, metric: MetricSpec) -> float:
    fields = {}
    for line in output.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            fields[key.strip()] = parts[0]
    if "MemTotal" not in fields or "MemAvailable" not in fields:
        raise MetricError(f"metric {metric.name}: /proc/meminfo lacks MemTotal or MemAvailable")
    total = _number(fields["MemTotal"], metric)
    return 100 * (total - _number(fields["MemAvailable"], metric)) / total


def parse_value(metric: MetricSpec, output: str) -> float:
    if metric.kind in ("filesystem", "inodes"):
        return _df_percent(output, metric)
    if metric.kind == "memory":
        return _memory_percent(output, metric)
    if metric.kind == "path_size":
        first = output.split(maxsplit=1)
        if not first:
            raise MetricError(f"metric {metric.name}: du printed nothing")
        return _number(first[0], metric)
    return _number(output.strip(), metric)


async def _sample(
    conn: asyncssh.SSHClientConnection,
    host: SSHHost,
    metric: MetricSpec,
    command: str,
    timeout: float,
) -> Sample:
    try:
        async with asyncio.timeout(timeout):
            result = await conn.run(command, check=False, encoding="utf-8", errors="replace")
        at = datetime.now(UTC)
        if result.exit_status != 0:
            stderr = str(result.stderr or "")[:200].strip()
            raise MetricError(f"metric {metric.name}: exit {result.exit_status}: {stderr}")
        value = parse_value(metric, str(result.stdout or "")[:OUTPUT_LIMIT])
        return Sample(metric=metric.name, host=host.name, at=at, value=value)
    except (MetricError, TimeoutError, asyncssh.Error, OSError) as exc:
        error = str(exc) if isinstance(exc, MetricError) else f"{type(exc).__name__}: {exc}"
        return Sample(
            metric=metric.name, host=host.name, at=datetime.now(UTC), value=None, error=error[:500]
        )


async def sample_host(
    host: SSHHost,
    metrics: list[MetricSpec],
    evidence: EvidenceConfig,
    load_key: KeyLoader = load_client_key,
) -> list[Sample]:
    """One connection per host; a host that cannot be reached gives failed samples."""
    plan = [(m, shlex.join(build_argv(m, evidence))) for m in metrics]
    limits = evidence.limits
    try:
        conn = await connect(host, limits, load_key)
    except (CredentialError, TimeoutError, asyncssh.Error, OSError) as exc:
        at = datetime.now(UTC)
        error = f"host {host.name}: {type(exc).__name__}: {exc}"[:500]
        return [
            Sample(metric=m.name, host=host.name, at=at, value=None, error=error) for m, _ in plan
        ]
    async with conn:
        samples = [await _sample(conn, host, m, c, limits.command_timeout_s) for m, c in plan]
    return samples


PROMETHEUS_HOST = "prometheus"


def prometheus_value(metric: MetricSpec, body: object) -> float:
    """The single number an instant query answered; anything else names the problem."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(data, dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise MetricError(f"metric {metric.name}: query failed: {str(error or body)[:200]}")
    result = data.get("result")
    if data.get("resultType") == "scalar" and isinstance(result, list) and len(result) == 2:
        value = _number(str(result[1]), metric)
    elif data.get("resultType") == "vector" and isinstance(result, list):
        if len(result) != 1:
            raise MetricError(
                f"metric {metric.name}: query returned {len(result)} series, expected exactly 1"
            )
        pair = result[0].get("value") if isinstance(result[0], dict) else None
        if not isinstance(pair, list) or len(pair) != 2:
            raise MetricError(f"metric {metric.name}: malformed vector sample")
        value = _number(str(pair[1]), metric)
    else:
        raise MetricError(
            f"metric {metric.name}: unsupported result type {data.get('resultType')!r}"
        )
    if value != value or value in (float("inf"), float("-inf")):
        raise MetricError(f"metric {metric.name}: query returned {value}")
    return value


async def sample_prometheus(metric: MetricSpec, timeout: float = 10.0) -> Sample:
    try:
        if metric.url is None or metric.query is None:
            raise MetricError(f"metric {metric.name}: kind prometheus needs url and query")
        base = str(metric.url).rstrip("/")
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.get(f"{base}/api/v1/query", params={"query": metric.query})
        at = datetime.now(UTC)
        try:
            body = response.json()
        except ValueError:
            raise MetricError(
                f"metric {metric.name}: HTTP {response.status_code}, not JSON"
            ) from None
        value = prometheus_value(metric, body)
        return Sample(metric=metric.name, host=PROMETHEUS_HOST, at=at, value=value)
    except (MetricError, httpx.HTTPError) as exc:
        error = str(exc) if isinstance(exc, MetricError) else f"{type(exc).__name__}: {exc}"
        return Sample(
            metric=metric.name,
            host=PROMETHEUS_HOST,
            at=datetime.now(UTC),
            value=None,
            error=error[:500],
        )
