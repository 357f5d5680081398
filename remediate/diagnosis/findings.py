"""What a diagnosis found about one service, as finding kinds a runbook action can name.

Health probes give ``probe:<failure>`` (``probe:connect`` is a refused or impossible
connection) and, for a wrong status, also ``probe:http_status:<code>``. Dependency checks
give ``dependency:<kind>`` when down, ``dependency:<kind>:slow`` when slow and
``dependency:tls:expiring`` for a certificate near its end.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from remediate.diagnosis.models import CheckKind, Diagnosis, ProbeFailure

FINDING_KINDS: tuple[str, ...] = (
    *(f"probe:{failure.value}" for failure in ProbeFailure),
    *(f"probe:http_status:{code}" for code in range(100, 600)),
    *(f"dependency:{kind.value}" for kind in CheckKind),
    *(f"dependency:{kind.value}:slow" for kind in CheckKind),
    "dependency:tls:expiring",
)


@dataclass(frozen=True)
class Finding:
    kind: str
    detail: str


def check_finding_pattern(pattern: str) -> str:
    """The pattern when it matches at least one finding kind; ValueError naming it otherwise."""
    if not any(fnmatch.fnmatchcase(kind, pattern) for kind in FINDING_KINDS):
        raise ValueError(
            f"{pattern!r} names no diagnosis finding; kinds are probe:<dns|connect|timeout|tls"
            "|http_status|protocol|content>, probe:http_status:<code>, dependency:<tcp|dns|tls>,"
            " dependency:<kind>:slow, dependency:tls:expiring"
        )
    return pattern


def findings_of(diagnosis: Diagnosis | None, service: str) -> list[Finding]:
    """The service's findings in the order the diagnosis recorded them."""
    if diagnosis is None:
        return []
    found: list[Finding] = []
    for health in diagnosis.services:
        if health.service != service:
            continue
        for probe in health.probes:
            if probe.healthy or probe.failure is None:
                continue
            detail = f"health endpoint {probe.endpoint}: {probe.error or probe.failure.value}"
            found.append(Finding(f"probe:{probe.failure.value}", detail))
            if probe.failure is ProbeFailure.HTTP_STATUS and probe.status_code is not None:
                found.append(Finding(f"probe:http_status:{probe.status_code}", detail))
    for check in diagnosis.checks:
        if check.service != service:
            continue
        where = f"{check.kind.value} check {check.name} ({check.target})"
        if not check.ok:
            found.append(Finding(f"dependency:{check.kind.value}", f"{where}: {check.error}"))
        elif check.slow:
            found.append(Finding(f"dependency:{check.kind.value}:slow", f"{where}: slow"))
        if check.warning and check.kind is CheckKind.TLS:
            found.append(Finding("dependency:tls:expiring", f"{where}: {check.warning}"))
    return found


def first_match(patterns: list[str], findings: list[Finding]) -> Finding | None:
    return next(
        (f for f in findings if any(fnmatch.fnmatchcase(f.kind, p) for p in patterns)), None
    )
