"""The investigation as issue text and as data for the fix prompt.

Everything the model wrote is untrusted: each piece is redacted and rendered inert
(``inline``); quotes are shown with whether they were found in the recorded evidence.
"""

from __future__ import annotations

from remediate.investigation.models import Hypothesis, Investigation, InvestigationStatus
from remediate.markdown import inline, table
from remediate.redaction import Redactor


def _hypothesis(rank: int, item: Hypothesis, redact: Redactor) -> list[str]:
    mark = "supported" if item.supported else "**unsupported: its quotes are not in the evidence**"
    statement = inline(redact(item.statement), 500)
    lines = [f"- **Hypothesis {rank}:** {statement} (confidence {item.confidence:.2f}, {mark})"]
    for quote in item.quotes:
        found = "found" if quote.verified else "NOT FOUND"
        lines.append(
            f"  - {found} in {inline(redact(quote.source), 80)}: {inline(redact(quote.text), 300)}"
        )
    if item.confirm:
        lines.append(f"  - confirm: {inline(redact(item.confirm), 300)}")
    if item.refute:
        lines.append(f"  - refute: {inline(redact(item.refute), 300)}")
    if item.action:
        lines.append(f"  - catalog action: {inline(item.action, 100)}")
    return lines


def investigation_section(investigation: Investigation | None, redactor: Redactor) -> str:
    if investigation is None:
        return "Not run for this severity."
    redact = redactor
    if investigation.status is InvestigationStatus.SKIPPED:
        return f"Skipped: {inline(redact(investigation.reason), 300)}."
    cost = (
        f"{investigation.turns} turns, {len(investigation.calls)} tool calls "
        f"({len(investigation.refused_calls)} refused), "
        f"{investigation.input_tokens} input and {investigation.output_tokens} output tokens, "
        f"USD {investigation.cost_usd:.4f}, {investigation.duration_s:.1f} s"
    )
    if investigation.status is InvestigationStatus.FAILED:
        return f"Failed: {inline(redact(investigation.reason), 500)} ({cost})."
    lines = [inline(redact(investigation.summary), 1_000), ""]
    unsupported = [h for h in investigation.hypotheses if not h.supported]
    if unsupported:
        lines += [
            f"{len(unsupported)} of {len(investigation.hypotheses)} hypotheses cite text "
            "that is not in the recorded evidence and are marked unsupported.",
            "",
        ]
    for rank, item in enumerate(investigation.hypotheses, 1):
        lines += _hypothesis(rank, item, redact)
    step = investigation.next_step
    if step is not None:
        what = f"action {inline(step.action, 100)}" if step.action else step.kind
        if step.parameters:
            values = ", ".join(f"{k}={v}" for k, v in step.parameters.items())
            what += f", parameters {inline(redact(values), 500)}"
        lines += ["", f"Next step ({what}): {inline(redact(step.description), 500)}"]
        if step.refused:
            lines.append(
                f"**Parameters refused:** {inline(redact(step.refused), 500)}; "
                "no action is proposed."
            )
    if investigation.calls:
        rows = [
            [
                call.id,
                inline(call.tool, 60),
                inline(redact(str(call.input)), 200),
                "refused" if call.refused else ("ok" if call.ok else "failed"),
            ]
            for call in investigation.calls
        ]
        lines += ["", table(["call", "tool", "input", "result"], rows)]
    lines += ["", f"Model session: {cost}."]
    return redact("\n".join(lines))


def investigation_data(investigation: Investigation | None) -> str | None:
    """The checked analysis as plain data for the fix prompt: supported hypotheses only."""
    if investigation is None or investigation.status is not InvestigationStatus.COMPLETED:
        return None
    supported = [h for h in investigation.hypotheses if h.supported]
    parts = [f"summary: {investigation.summary}"]
    for item in supported:
        parts.append(f"hypothesis ({item.confidence:.2f}): {item.statement}")
        parts += [f"  evidence [{q.source}]: {q.text}" for q in item.quotes]
    if not supported:
        parts.append("no hypothesis is supported by the recorded evidence")
    return "\n".join(parts)


def leading_hypothesis(investigation: Investigation | None) -> Hypothesis | None:
    """The hypothesis an approver is asked to judge: the first of a completed analysis."""
    if investigation is None or investigation.status is not InvestigationStatus.COMPLETED:
        return None
    return investigation.hypotheses[0] if investigation.hypotheses else None


def judgement_request(hypothesis: Hypothesis | None, redactor: Redactor) -> str:
    """The lines of an approval form that show the leading hypothesis to judge."""
    if hypothesis is None:
        return ""
    mark = "supported" if hypothesis.supported else "unsupported"
    return (
        "\n\n## The investigation's leading hypothesis\n\n"
        f"{inline(redactor(hypothesis.statement), 500)} "
        f"(confidence {hypothesis.confidence:.2f}, {mark}).\n\n"
        "If it was right or wrong, say so in `hypothesis` (and why in `hypothesis_reason`);"
        " this does not change what approving does."
    )


def judgement_comment(
    verdict: str, approver: str, reason: str, hypothesis: Hypothesis, stage: str, redactor: Redactor
) -> str:
    """The issue note recording an approver's judgement of the leading hypothesis."""
    text = (
        f"**Investigation judged {verdict}** by {inline(approver, 100)} at the {stage} approval."
        f"\n\nLeading hypothesis: {inline(redactor(hypothesis.statement), 500)}"
    )
    if reason:
        text += f"\n\nWhy: {inline(redactor(reason), 500)}"
    return text
