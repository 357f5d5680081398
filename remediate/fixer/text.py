"""What the issue says about a fix proposal and the decision on it."""

from __future__ import annotations

from remediate.approval.form import FixApproval
from remediate.approval.record import DecisionRecord
from remediate.fixer.models import FixProposal, FixStatus
from remediate.fixer.review import showable
from remediate.markdown import fenced, inline, table

HEADLINE = {
    FixStatus.PROPOSED: "A fix was proposed and waits for approval.",
    FixStatus.NO_FIX: "No fix was proposed.",
    FixStatus.REFUSED: "The proposed change was refused automatically.",
    FixStatus.SKIPPED: "The fix proposal step was skipped.",
    FixStatus.FAILED: "The fix proposal step failed; the remediation went on without it.",
}


def proposal_comment(proposal: FixProposal) -> str:
    lines = [f"**Fix proposal: {proposal.status.value}.** {HEADLINE[proposal.status]}"]
    if proposal.reason:
        lines += ["", f"Reason: {inline(proposal.reason, 1000)}"]
    if proposal.status in (FixStatus.SKIPPED,):
        return "\n".join(lines)
    rows = [
        ["summary", inline(proposal.summary or "-", 500)],
        ["risk (model's assessment)", proposal.risk.value],
        ["files changed", inline(", ".join(proposal.files_changed) or "none", 500)],
        ["turns", str(proposal.turns)],
        ["duration", f"{proposal.duration_s:.1f} s"],
        ["tokens in / out", f"{proposal.input_tokens} / {proposal.output_tokens}"],
        ["cost", f"USD {proposal.cost_usd:.4f}"],
        ["tool calls denied", str(len(proposal.denials))],
    ]
    if proposal.sandbox:
        rows.append(["sandbox", inline(proposal.sandbox, 500)])
    if proposal.sandbox_violations:
        rows.append(["sandbox violations", str(len(proposal.sandbox_violations))])
    lines += ["", table(["", ""], rows)]
    if proposal.denials:
        denied = "\n".join(f"{d.tool} {d.target[:200]}: {d.reason}" for d in proposal.denials[:20])
        lines += ["", "Denied tool calls:", "", fenced(denied)]
    if proposal.sandbox_violations:
        blocked = "\n".join(v[:200] for v in proposal.sandbox_violations[:20])
        lines += ["", "Blocked by the sandbox:", "", fenced(blocked)]
    if proposal.diff and showable(proposal.diff):
        lines += ["", "Diff (computed by git):", "", fenced(proposal.diff, "diff")]
    elif proposal.diff:
        lines += ["", f"Diff not shown: {len(proposal.diff)} characters (artifact `fix-diff`)."]
    return "\n".join(lines)


def decision_comment(record: DecisionRecord) -> str:
    text = record.markdown("Fix")
    if not record.approved:
        text += "\n\nNothing was pushed."
    return text


def mismatch_comment(approval: FixApproval, current_sha256: str) -> str:
    return (
        f"**Approved fix not pushed.** {inline(approval.approver, 100)} approved the diff with"
        f" sha256 `{inline(approval.diff_sha256, 64)}`, but the proposal this run holds now has"
        f" sha256 `{current_sha256}` (the proposal was lost or changed after the approval)."
        " Nothing was pushed; the fix needs a new proposal and a new approval."
    )


def report_section(
    proposal: FixProposal,
    decision: DecisionRecord | None,
    pull_url: str | None,
    not_published: str | None,
    run_id: str | None,
) -> str:
    """The end of the ``incident-report`` artifact: the fix, the decision and its result."""
    lines = ["", "## Fix", "", f"**{proposal.status.value}.** {HEADLINE[proposal.status]}"]
    if proposal.summary:
        lines.append(f"Summary: {inline(proposal.summary, 500)} (risk: {proposal.risk.value})")
    if decision is None:
        return "\n".join([*lines, "", "Decision: none."])
    lines += ["", decision.markdown()]
    if pull_url:
        lines += ["", f"**Pull request:** {pull_url}"]
    elif not_published:
        lines += [
            "",
            f"**Not published:** {inline(not_published, 1500)}",
            f"Retry without a new approval: `remediate retry-publish {run_id}`.",
        ]
    return "\n".join(lines)
