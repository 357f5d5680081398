"""Dry-run (shadow) runs: what each step would have done, as the artifacts show it."""

from __future__ import annotations

from remediate.actions.models import ActionProposal
from remediate.actions.text import proposal_table
from remediate.approval.config import ApprovalConfig
from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal
from remediate.fixer.text import proposal_comment
from remediate.markdown import fenced, inline
from remediate.notifications.config import NotificationsConfig

HEADLINE = "**Dry run: nothing was written, pushed, run or sent.**"


def silent(approval: ApprovalConfig) -> ApprovalConfig:
    """The approval settings of a shadow run: the same approvers, no channel to tell."""
    return approval.model_copy(update={"notify": []})


NO_CHANNELS = NotificationsConfig()


def would_open_issue(title: str, labels: list[str], body: str, comment: str | None) -> str:
    """``title``, ``labels``, ``body`` and ``comment`` are the tracker's own (escaped) text."""
    lines = [
        HEADLINE,
        "",
        "## The issue it would open, or update when one is open for this fingerprint",
        "",
        f"**Title:** {inline(title, 300)}",
        "",
        f"**Labels:** {inline(', '.join(labels) or 'none', 500)}",
        "",
        "**Body:**",
        "",
        fenced(body, "markdown"),
    ]
    if comment:
        lines += ["", "**Comment on an open issue instead:**", "", fenced(comment, "markdown")]
    return "\n".join(lines)


def would_fix(proposal: FixProposal, approval: ApprovalConfig, waits: bool) -> str:
    lines = [HEADLINE, "", "## The fix it would propose", "", proposal_comment(proposal)]
    if waits:
        who = ", ".join(approval.approvers) or "nobody (approval.approvers is empty)"
        lines += [
            "",
            f"It would wait for approval of diff `{diff_sha256(proposal.diff)}` by one of:"
            f" {inline(who, 500)}; approved, it would push a branch and open a pull request."
            " The diff is the `fix-diff` artifact.",
        ]
    return "\n".join(lines)


def would_run_action(proposal: ActionProposal, gate: bool, approval: ApprovalConfig) -> str:
    if gate:
        who = ", ".join(approval.approvers) or "nobody (approval.approvers is empty)"
        then = f"It would wait for approval by one of: {inline(who, 500)}, then run:"
    else:
        then = "It is unattended and low risk, so it would run at once:"
    return "\n".join(
        [
            HEADLINE,
            "",
            f"## The runbook action it would run: `{proposal.action}`",
            "",
            then,
            "",
            proposal_table(proposal),
        ]
    )


def summary(would: list[str]) -> str:
    """One line for the dry-run notice: the ``would:`` values of the run."""
    return "would " + ", ".join(w.replace("-", " ") for w in would) if would else "would do nothing"
