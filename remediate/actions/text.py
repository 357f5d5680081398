"""How a runbook action appears on the issue, the approval form and the incident artifact."""

from __future__ import annotations

from remediate.actions.models import ActionOutcome, ActionProposal, ActionRun, HealthCheck
from remediate.markdown import fenced, inline, own_link, table

HEADLINE = {
    "succeeded": "The action ran and health came back.",
    "failed-undone": "Health did not come back; the undo action ran.",
    "failed-undo-failed": "Health did not come back and the undo did not restore it.",
    "failed-no-undo": "Health did not come back and the action has no undo.",
    "rejected": "The action was rejected; nothing ran.",
    "not-run": "The action was not run.",
}


def proposal_table(proposal: ActionProposal) -> str:
    parameters = ", ".join(f"{k}={v}" for k, v in proposal.parameters.items()) or "none"
    rows = [
        ["action", f"`{proposal.action}`"],
        ["description", inline(proposal.description, 1000)],
        ["risk", proposal.risk],
        ["parameters", inline(parameters, 1000)],
    ]
    if proposal.suggested_by:
        rows.append(["suggested by", inline(proposal.suggested_by, 1000)])
    if proposal.kind == "http":
        rows += [
            ["request", inline(proposal.command, 1000)],
            ["headers", inline("; ".join(proposal.headers) or "none", 1000)],
            ["body", inline(proposal.body or "none", 1000)],
            ["expected status", ", ".join(str(code) for code in proposal.expected_status)],
        ]
    else:
        rows += [
            ["hosts", inline(", ".join(proposal.hosts), 1000)],
            ["command", inline(proposal.command, 1000)],
        ]
    rows += [
        ["post-condition", f"health endpoints healthy within {proposal.healthy_within_s:g} s"],
        ["undo", f"`{proposal.undo}`" if proposal.undo else "none"],
        ["unattended", "yes (runs without approval)" if proposal.unattended else "no"],
    ]
    return table(["", ""], rows)


def proposal_comment(proposal: ActionProposal) -> str:
    gate = (
        "It is marked unattended and low risk, so it runs without approval."
        if proposal.unattended
        else "It waits for approval."
    )
    return f"**Runbook action proposed: `{proposal.action}`.** {gate}\n\n" + proposal_table(
        proposal
    )


def approval_description(proposal: ActionProposal, issue_url: str | None) -> str:
    if proposal.kind == "http":
        effect = "**Approve** sends the HTTP request shown, once; **reject** sends nothing."
    else:
        effect = (
            "**Approve** runs the command over SSH on the hosts listed, one after another;"
            " **reject** runs nothing."
        )
    lines = [effect, "", "## Runbook action awaiting approval", "", proposal_table(proposal), ""]
    if issue_url:
        lines += [f"**Issue:** {own_link(issue_url, 'open the issue')}", ""]
    return "\n".join(lines).rstrip()


def _run_text(run: ActionRun) -> str:
    if run.http is not None:
        state = run.http.error or f"HTTP {run.http.status_code}"
        return "\n".join(p for p in (f"> {run.http.request}   # {state}", run.http.output) if p)
    parts = []
    for host in run.hosts:
        state = host.error or f"exit {host.exit_status}"
        parts.append(f"$ {host.command}   # {host.host} ({host.endpoint}): {state}")
        if host.output:
            parts.append(host.output)
    return "\n".join(parts) or "(no host ran it)"


def _health_text(health: HealthCheck) -> str:
    verdict = "healthy" if health.healthy else "NOT healthy"
    return f"{verdict}: {inline('; '.join(health.detail) or 'no endpoints', 1000)}"


def outcome_markdown(outcome: ActionOutcome) -> str:
    proposal = outcome.proposal
    lines = [f"**Runbook action `{proposal.action}`: {outcome.status.value}.**"]
    lines.append(HEADLINE[outcome.status.value])
    if outcome.gate == "unattended":
        lines += ["", "Approval gate: skipped (the catalog marks it unattended, risk low)."]
    elif outcome.decision is not None:
        lines += ["", outcome.decision.markdown("Approval gate:")]
    else:
        lines += ["", f"Approval gate: {outcome.gate}."]
    if outcome.reason:
        lines += ["", f"Reason: {inline(outcome.reason, 1000)}"]
    if outcome.run is not None:
        lines += ["", "Output (redacted):", "", fenced(_run_text(outcome.run))]
    if outcome.health is not None:
        lines += ["", f"Verification after the action: {_health_text(outcome.health)}"]
    if outcome.undo is not None:
        lines += ["", f"Undo `{outcome.undo.action}` output (redacted):", ""]
        lines.append(fenced(_run_text(outcome.undo)))
    if outcome.health_after_undo is not None:
        lines += ["", f"Verification after the undo: {_health_text(outcome.health_after_undo)}"]
    return "\n".join(lines)


def incident_artifact_section(outcome: ActionOutcome) -> str:
    return (
        "\n\n## Runbook action\n\n"
        + proposal_table(outcome.proposal)
        + "\n\n"
        + (outcome_markdown(outcome))
    )
