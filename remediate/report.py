"""The incident report: issue title, issue body, recurrence comment and run artifact."""

from __future__ import annotations

import json

from remediate.markdown import fenced, inline, table
from remediate.models import Alert, Diagnosis, ProbeResult, Verification

TITLE_LIMIT = 200


def issue_title(alert: Alert) -> str:
    service = alert.service or "unknown service"
    summary = " ".join(alert.summary.split()) or "no message"
    title = f"[{alert.severity.value}] {alert.check_id} on {service}: {summary}"
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def issue_labels(alert: Alert) -> list[str]:
    labels = ["remediate", f"severity:{alert.severity.value}", f"check:{alert.check_id}"]
    if alert.service:
        labels.append(f"service:{alert.service}")
    return [label[:50] for label in labels]


def _probe_row(p: ProbeResult) -> list[str]:
    status = str(p.status_code) if p.status_code is not None else "-"
    outcome = "healthy" if p.healthy else f"**{p.failure.value if p.failure else 'unhealthy'}**"
    return [
        inline(p.service, 80),
        inline(p.endpoint, 80),
        outcome,
        f"{status} (want {p.expected_status})",
        f"{p.latency_ms:.0f} ms",
        inline(p.error or "", 160),
    ]


PROBE_HEADERS = ["service", "endpoint", "result", "status", "latency", "error"]


def alert_facts(alert: Alert) -> str:
    rows = [
        ["alert id", inline(alert.id)],
        ["source", inline(alert.source)],
        ["check", inline(alert.check_id)],
        ["service", inline(alert.service or "not in catalog")],
        ["severity", alert.severity.value],
        ["status", alert.status.value],
        ["fired at", alert.fired_at.isoformat()],
        ["fingerprint", f"`{alert.fingerprint}`"],
    ]
    rows += [[f"label {inline(k, 60)}", inline(v)] for k, v in sorted(alert.labels.items())]
    parts = [table(["fact", "value"], rows), "", "Message:", "", fenced(alert.summary)]
    if alert.details:
        details = json.dumps(alert.details, indent=2, sort_keys=True, default=str)
        parts += ["", "Details:", "", fenced(details, "json")]
    return "\n".join(parts)


def verification_section(verification: Verification | None) -> str:
    if verification is None:
        return "Not verified: the policy for this severity skips verification."
    lines = [f"**{verification.verdict.value}**: {inline(verification.reason)}", ""]
    for number, attempt in enumerate(verification.attempts, start=1):
        lines.append(f"Attempt {number}:")
        lines.append("")
        lines.append(table(PROBE_HEADERS, [_probe_row(p) for p in attempt]))
        lines.append("")
    return "\n".join(lines).rstrip()


def diagnosis_section(diagnosis: Diagnosis | None) -> str:
    if diagnosis is None:
        return "Not diagnosed: the policy for this severity skips diagnosis."
    rows = [_probe_row(p) for s in diagnosis.services for p in s.probes]
    summary = inline(diagnosis.summary)
    return summary if not rows else f"{summary}\n\n{table(PROBE_HEADERS, rows)}"


def summary_line(
    alert: Alert, verification: Verification | None, diagnosis: Diagnosis | None
) -> str:
    verdict = verification.verdict.value if verification else "not verified"
    failing = diagnosis.failing if diagnosis else []
    suspect = f"; unhealthy: {', '.join(failing)}" if failing else ""
    return (
        f"**{inline(alert.check_id, 100)}** fired on **{inline(alert.service or 'unknown', 100)}**"
        f" ({alert.severity.value}), {verdict}{inline(suspect)}."
    )


def incident_report(
    alert: Alert,
    verification: Verification | None,
    diagnosis: Diagnosis | None,
    run_url: str | None,
) -> str:
    link = f"[Prefect flow run]({run_url})" if run_url else "Prefect flow run: not available"
    return "\n".join(
        [
            summary_line(alert, verification, diagnosis),
            "",
            "## Alert",
            "",
            alert_facts(alert),
            "",
            "## Verification",
            "",
            verification_section(verification),
            "",
            "## Diagnosis",
            "",
            diagnosis_section(diagnosis),
            "",
            "## Links",
            "",
            f"- {link}",
        ]
    )


def recurrence_comment(
    alert: Alert,
    verification: Verification | None,
    diagnosis: Diagnosis | None,
    run_url: str | None,
) -> str:
    return (
        f"Fired again at {alert.fired_at.isoformat()} (alert {inline(alert.id, 200)}).\n\n"
        + incident_report(alert, verification, diagnosis, run_url)
    )
