"""Run a runbook action (over SSH on a service's hosts, or as an HTTP call) and wait for
the service's health to return.

The command comes from ``RunbookAction.command``: catalog literals and validated
parameters, quoted with ``shlex``. Hosts run one after another and the first failure
stops the rest. Output is bounded, cleaned of control characters and redacted.
"""

from __future__ import annotations

import asyncio
import time

import asyncssh

from remediate.actions.config import RunbookAction
from remediate.actions.http_call import run_http, shown_body
from remediate.actions.models import ActionProposal, ActionRun, HealthCheck, HostRun
from remediate.actions.output import shape_output
from remediate.catalog import Service
from remediate.diagnosis.probes import probe_service
from remediate.evidence.config import EvidenceLimits, SSHHost
from remediate.evidence.ssh_connect import (
    CredentialError,
    KeyLoader,
    connect,
    describe_ssh_error,
    load_client_key,
)
from remediate.redaction import Redactor


def action_hosts(service: Service, action: RunbookAction) -> list[SSHHost]:
    if action.run is None:
        return []
    if not action.hosts:
        return list(service.hosts)
    return [h for name in action.hosts for h in service.hosts if h.name == name]


def propose(
    service: Service, action: RunbookAction, redactor: Redactor, suggested_by: str = ""
) -> ActionProposal:
    """What the approver sees: never a header's secret, only the variable it comes from."""
    http = action.http
    body = shown_body(action) if http is not None else None
    return ActionProposal(
        service=service.name,
        action=action.name,
        description=action.description,
        risk=action.risk,
        parameters=action.arguments(),
        hosts=[h.endpoint for h in action_hosts(service, action)],
        command=redactor(action.shown()),
        unattended=action.unattended,
        undo=action.undo,
        healthy_within_s=action.post_condition.healthy_within_s,
        kind="http" if http is not None else "ssh",
        headers=[redactor(h.shown) for h in http.headers] if http is not None else [],
        body=redactor(body) if body is not None else None,
        expected_status=list(http.expected_status) if http is not None else [],
        suggested_by=redactor(suggested_by),
    )


async def run_on_host(
    host: SSHHost,
    command: str,
    timeout_s: float,
    limits: EvidenceLimits,
    redactor: Redactor,
    load_key: KeyLoader = load_client_key,
) -> HostRun:
    shown = redactor(command)
    try:
        conn = await connect(host, limits, load_key)
        async with conn:
            result = await conn.run(command, check=False, timeout=timeout_s, stdin=None)
    except asyncssh.TimeoutError as exc:
        output = shape_output(exc.stdout, redactor) + "\n" + shape_output(exc.stderr, redactor)
        return HostRun(
            host=host.name,
            endpoint=host.endpoint,
            command=shown,
            output=output.strip(),
            error=f"command did not finish within {timeout_s:g} s",
        )
    except (CredentialError, TimeoutError, asyncssh.Error, OSError) as exc:
        return HostRun(
            host=host.name,
            endpoint=host.endpoint,
            command=shown,
            error=redactor(describe_ssh_error(exc)),
        )
    output = shape_output(result.stdout, redactor)
    errors = shape_output(result.stderr, redactor)
    return HostRun(
        host=host.name,
        endpoint=host.endpoint,
        command=shown,
        exit_status=result.exit_status,
        output="\n".join(part for part in (output, errors) if part),
    )


async def run_action(
    service: Service,
    action: RunbookAction,
    limits: EvidenceLimits,
    redactor: Redactor,
    load_key: KeyLoader = load_client_key,
) -> ActionRun:
    """Validates the parameters again, then runs on each host in turn until one fails;
    an HTTP action sends its one request instead."""
    if action.http is not None:
        return await run_http(action, redactor)
    command = action.command()
    runs: list[HostRun] = []
    for host in action_hosts(service, action):
        run = await run_on_host(host, command, action.timeout_s, limits, redactor, load_key)
        runs.append(run)
        if not run.ok:
            break
    return ActionRun(action=action.name, hosts=runs)


async def wait_healthy(service: Service, within_s: float, interval_s: float) -> HealthCheck:
    """Probe until every health endpoint answers as expected or ``within_s`` has passed."""
    deadline = time.monotonic() + within_s
    while True:
        health = await probe_service(service)
        detail = [
            f"{p.endpoint}: {'healthy' if p.healthy else 'unhealthy'}"
            + (f" (HTTP {p.status_code})" if p.status_code is not None else "")
            + (f" {p.failure.value}" if p.failure is not None else "")
            for p in health.probes
        ]
        if health.healthy or time.monotonic() >= deadline:
            return HealthCheck(healthy=health.healthy and bool(health.probes), detail=detail)
        await asyncio.sleep(interval_s)
