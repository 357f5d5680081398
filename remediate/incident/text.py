"""The incident issue: its title, labels, body, recurrence comment and run artifact text."""

from __future__ import annotations

import hashlib
import html
import json
import re

from remediate.alerts import Alert
from remediate.diagnosis.models import DependencyCheck, Diagnosis, ProbeResult, Verification
from remediate.evidence.models import LogBundle, LogSourceResult
from remediate.incident.models import Incident, Occurrences
from remediate.investigation.models import Investigation
from remediate.investigation.text import investigation_section
from remediate.markdown import fenced, inline, plain, table
from remediate.redaction import Redactor

TITLE_LIMIT = 200
GITHUB_BODY_LIMIT = 65_536
BODY_BUDGET = GITHUB_BODY_LIMIT - 1_024
LOG_LINE_CAPS: tuple[int | None, ...] = (None, 200, 100, 50, 20, 10, 5, 0)
DETAILS_FALLBACK_CHARS = 4_000
LABEL_LIMIT = 50
_LABEL_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def issue_title(alert: Alert, redactor: Redactor | None = None) -> str:
    redact = redactor or Redactor()
    service = alert.service or "unknown service"
    summary = " ".join(alert.summary.split()) or "no message"
    title = f"[{alert.severity.value}] {alert.check_id} on {service}: {summary}"
    return plain(redact(title), TITLE_LIMIT)


def label(prefix: str, value: str) -> str:
    """``prefix:value`` when ``value`` is plain (letters, digits, ``._-``) and fits GitHub's
    50 characters; otherwise ``prefix:`` and a hash of it. The readable value is in the body
    (``alert_facts``), so no comma, mention, markup or control character reaches a label."""
    room = LABEL_LIMIT - len(prefix) - 1
    if _LABEL_TEXT.fullmatch(value) and len(value) <= room:
        return f"{prefix}:{value}"
    return f"{prefix}:h{hashlib.sha256(value.encode()).hexdigest()[: min(room, 16) - 1]}"


def issue_labels(alert: Alert, redactor: Redactor | None = None) -> list[str]:
    """Labels from alert fields, redacted first: a redacted value is never plain, so it
    becomes a hash."""
    redact = redactor or Redactor()
    labels = [
        "remediate",
        label("severity", alert.severity.value),
        label("check", redact(alert.check_id)),
    ]
    if alert.service:
        labels.append(label("service", redact(alert.service)))
    return labels


def _probe_row(p: ProbeResult, redact: Redactor) -> list[str]:
    status = str(p.status_code) if p.status_code is not None else "-"
    outcome = "healthy" if p.healthy else f"**{p.failure.value if p.failure else 'unhealthy'}**"
    return [
        inline(redact(p.service), 80),
        inline(redact(p.endpoint), 80),
        outcome,
        f"{status} (want {p.expected_status})",
        f"{p.latency_ms:.0f} ms",
        inline(redact(p.error or ""), 160),
    ]


PROBE_HEADERS = ["service", "endpoint", "result", "status", "latency", "error"]


def alert_facts(
    alert: Alert,
    redactor: Redactor | None = None,
    occurrences: Occurrences | None = None,
    details_limit: int | None = None,
) -> str:
    redact = redactor or Redactor()
    rows = [
        ["alert id", inline(redact(alert.id))],
        ["source", inline(redact(alert.source))],
        ["check", inline(redact(alert.check_id))],
        ["service", inline(redact(alert.service or "not in catalog"))],
        ["severity", alert.severity.value],
        ["status", alert.status.value],
        ["fired at", alert.fired_at.isoformat()],
        ["fingerprint", f"`{alert.fingerprint}`"],
    ]
    if occurrences is not None:
        rows += [
            ["occurrences", str(occurrences.count)],
            ["first seen", occurrences.first_seen.isoformat()],
            ["last seen", occurrences.last_seen.isoformat()],
        ]
        if occurrences.flapping_transitions is not None:
            window = occurrences.flapping_window_s
            rows.append(
                [
                    "flapping",
                    f"yes: {occurrences.flapping_transitions} firing/resolved transitions"
                    + (f" within {window:g} s" if window is not None else ""),
                ]
            )
    rows += [
        [f"label {inline(redact(k), 60)}", inline(redact(v))]
        for k, v in sorted(alert.labels.items())
    ]
    message = redact(alert.summary)
    parts = [table(["fact", "value"], rows), "", "Message:", "", fenced(message)]
    if alert.details:
        safe = redact.value(alert.details)
        details = redact(json.dumps(safe, indent=2, sort_keys=True, default=str))
        if details_limit is not None and len(details) > details_limit:
            details = details[:details_limit] + f"\n... (cut to {details_limit} characters)"
        parts += ["", "Details:", "", fenced(details, "json")]
    return "\n".join(parts)


def verification_section(
    verification: Verification | None, redactor: Redactor | None = None
) -> str:
    if verification is None:
        return "Not verified: the policy for this severity skips verification."
    redact = redactor or Redactor()
    lines = [f"**{verification.verdict.value}**: {inline(redact(verification.reason))}", ""]
    for number, attempt in enumerate(verification.attempts, start=1):
        lines.append(f"Attempt {number}:")
        lines.append("")
        lines.append(table(PROBE_HEADERS, [_probe_row(p, redact) for p in attempt]))
        lines.append("")
    return "\n".join(lines).rstrip()


def diagnosis_section(diagnosis: Diagnosis | None, redactor: Redactor | None = None) -> str:
    if diagnosis is None:
        return "Not diagnosed: the policy for this severity skips diagnosis."
    redact = redactor or Redactor()
    rows = [_probe_row(p, redact) for s in diagnosis.services for p in s.probes]
    summary = inline(redact(diagnosis.summary))
    text = summary if not rows else f"{summary}\n\n{table(PROBE_HEADERS, rows)}"
    return text + dependency_section(diagnosis, redact)


def _check_row(check: DependencyCheck, redact: Redactor) -> list[str]:
    if not check.ok:
        result = "**down**"
    elif check.warning:
        result = "**warning**"
    else:
        result = "**slow**" if check.slow else "ok"
    latency = f"{check.latency_ms:.0f} ms" if check.latency_ms is not None else "-"
    note = check.error or check.warning or check.detail
    return [
        inline(redact(check.service), 80),
        check.kind.value,
        inline(redact(check.name), 80),
        inline(redact(check.target), 120),
        result,
        latency,
        inline(redact(note), 200),
    ]


def dependency_section(diagnosis: Diagnosis, redactor: Redactor | None = None) -> str:
    """Dependency, DNS and TLS checks; then what is down, what is slow, what failed first."""
    redact = redactor or Redactor()
    blocks: list[str] = []
    if diagnosis.checks:
        headers = ["service", "check", "name", "target", "result", "latency", "detail"]
        blocks.append(table(headers, [_check_row(c, redact) for c in diagnosis.checks]))
    facts = []
    if diagnosis.down:
        down = ", ".join(f"{c.name} ({c.kind.value})" for c in diagnosis.down)
        facts.append(f"- Down: {inline(redact(down))}")
    if diagnosis.slow:
        slow = ", ".join(
            f"{c.name} ({c.kind.value}, {c.latency_ms:.0f} ms)" for c in diagnosis.slow
        )
        facts.append(f"- Slow: {inline(redact(slow))}")
    warnings = [c for c in diagnosis.checks if c.warning]
    if warnings:
        warned = "; ".join(f"{c.name}: {c.warning}" for c in warnings)
        facts.append(f"- Warning: {inline(redact(warned))}")
    failures = diagnosis.failures_in_order
    if failures:
        when, what = failures[0]
        facts.append(f"- First failure: {inline(redact(what))} at {when.isoformat()}")
    if facts:
        blocks.append("\n".join(facts))
    return "".join(f"\n\n{block}" for block in blocks)


def _log_result(result: LogSourceResult) -> str:
    if result.failure is not None:
        return f"**{result.failure.value}**"
    if result.exit_status == 0:
        return "ok"
    if result.exit_status is None:
        signal = f" (signal {result.exit_signal})" if result.exit_signal else ""
        return f"**no exit status**{inline(signal)}"
    return f"**exit {result.exit_status}**"


def _log_block(result: LogSourceResult, cap: int | None, redact: Redactor) -> str:
    lines = result.lines
    shown = lines if cap is None or len(lines) <= cap else lines[len(lines) - cap :]
    state = result.failure.value if result.failure else f"exit {result.exit_status}"
    summary = html.escape(
        redact(f"{result.host} · {result.source} ({result.kind}) · {state} · {len(lines)} lines")
        + (" · truncated" if result.truncated else "")
    )
    parts = [
        "<details>",
        f"<summary>{summary}</summary>",
        "",
        f"Host {inline(redact(result.endpoint), 200)},"
        f" command: {inline(redact(result.command), 1_000)}",
    ]
    if result.error:
        parts += ["", f"Error: {inline(redact(result.error), 1_000)}"]
    if result.stderr:
        parts += ["", "stderr:", "", fenced(redact(result.stderr))]
    if shown:
        if len(shown) < len(lines):
            parts += ["", f"Last {len(shown)} of {len(lines)} lines (trimmed to fit):"]
        parts += ["", fenced(redact("\n".join(shown)))]
    elif lines:
        parts += ["", f"{len(lines)} lines left out to fit the issue size limit."]
    parts += ["", "</details>"]
    return "\n".join(parts)


def logs_section(
    logs: LogBundle | None, cap: int | None = None, redactor: Redactor | None = None
) -> str:
    if logs is None:
        return "Not collected: no hosts or log sources for this service, or the policy skips it."
    redact = redactor or Redactor()
    if not logs.sources:
        return f"No log sources configured for service {inline(redact(logs.service))}."
    rows = [
        [
            inline(redact(r.host), 80),
            inline(redact(r.source), 80),
            _log_result(r),
            str(len(r.lines)) + (" (truncated)" if r.truncated else ""),
            f"{r.duration_ms:.0f} ms",
        ]
        for r in logs.sources
    ]
    parts = [
        f"{inline(redact(logs.summary))}, collected in {logs.duration_ms:.0f} ms.",
        "",
        table(["host", "source", "result", "lines", "duration"], rows),
    ]
    if cap is not None:
        parts += [
            "",
            f"Logs below are trimmed to the last {cap} lines per source to keep this issue"
            f" under GitHub's {GITHUB_BODY_LIMIT:,}-character limit.",
        ]
    parts += ["", *(_log_block(r, cap, redact) + "\n" for r in logs.sources)]
    return "\n".join(parts).rstrip()


def summary_line(
    alert: Alert,
    verification: Verification | None,
    diagnosis: Diagnosis | None,
    redactor: Redactor | None = None,
) -> str:
    redact = redactor or Redactor()
    verdict = verification.verdict.value if verification else "not verified"
    failing = diagnosis.failing if diagnosis else []
    suspect = f"; unhealthy: {', '.join(failing)}" if failing else ""
    if diagnosis is not None and diagnosis.down:
        suspect += f"; down: {', '.join(c.name for c in diagnosis.down)}"
    check, service = redact(alert.check_id), redact(alert.service or "unknown")
    return (
        f"**{inline(check, 100)}** fired on **{inline(service, 100)}**"
        f" ({alert.severity.value}), {verdict}{inline(redact(suspect))}."
    )


def _head(incident: Incident, redact: Redactor, details_limit: int | None) -> str:
    alert, verification, diagnosis = incident.alert, incident.verification, incident.diagnosis
    sections = [
        summary_line(alert, verification, diagnosis, redact),
        "",
        "## Alert",
        "",
        alert_facts(alert, redact, incident.occurrences, details_limit),
        "",
        "## Verification",
        "",
        verification_section(verification, redact),
        "",
        "## Diagnosis",
        "",
        diagnosis_section(diagnosis, redact),
    ]
    if incident.investigation is not None:
        sections += [
            "",
            "## Investigation",
            "",
            investigation_section(incident.investigation, redact),
        ]
    return redact("\n".join(sections))


def investigation_comment(investigation: Investigation, redactor: Redactor | None = None) -> str:
    """The investigation as its own comment: it ends after the issue is opened."""
    redact = redactor or Redactor()
    return redact("## Investigation\n\n" + investigation_section(investigation, redact))


def issue_body(
    incident: Incident, redactor: Redactor | None = None, *, limit: int = BODY_BUDGET
) -> str:
    """The issue body; logs are trimmed first when it would pass GitHub's size limit."""
    redact = redactor or Redactor()
    logs, run_url = incident.logs, incident.run_url
    link = f"[Prefect flow run]({run_url})" if run_url else "Prefect flow run: not available"
    tail = f"\n\n## Links\n\n- {link}"
    head = _head(incident, redact, None)
    if logs is None:
        body = head + tail
    else:
        for cap in LOG_LINE_CAPS:
            body = f"{head}\n\n## Logs\n\n{redact(logs_section(logs, cap, redact))}{tail}"
            if len(body) <= limit:
                return body
            if len(head) + len(tail) > limit:
                break
    if len(body) <= limit:
        return body
    head = _head(incident, redact, DETAILS_FALLBACK_CHARS)
    logs_text = "" if logs is None else f"\n\n## Logs\n\n{redact(logs_section(logs, 0, redact))}"
    body = head + logs_text + tail
    if len(body) <= limit:
        return body
    note = "\n\n(cut here to stay under the issue size limit)"
    return body[: limit - len(note)] + note


def recurrence_comment(incident: Incident, redactor: Redactor | None = None) -> str:
    redact = redactor or Redactor()
    alert = incident.alert
    head = redact(
        f"Fired again at {alert.fired_at.isoformat()} (alert {inline(redact(alert.id), 200)}).\n\n"
    )
    return head + issue_body(incident, redact, limit=BODY_BUDGET - len(head))
