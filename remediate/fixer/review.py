"""Whether a proposal may be shown and approved as it is.

What a person approves must be exactly what is pushed, so a proposal is approvable only
when its diff can be shown whole and unchanged: redaction would change it (a secret in a
proposed change is itself a finding), hidden characters would not show, and a diff larger
than the form and the issue can hold would be cut. Such proposals are refused, with the
diff redacted, and the reason goes on the issue.
"""

from __future__ import annotations

from remediate.fixer.models import FixProposal, FixStatus
from remediate.markdown import has_hidden_characters
from remediate.redaction import Redactor

SHOW_LIMIT = 50_000


def refusal(diff: str, redacted: str) -> str | None:
    """Why ``diff`` (``redacted`` once redacted) cannot be approved as shown, or None."""
    if redacted != diff:
        return (
            "the proposed diff contains text that looks like a secret; it is shown only"
            " redacted, and a redacted diff cannot be approved because it is not what would"
            " be pushed"
        )
    if has_hidden_characters(diff):
        return (
            "the proposed diff contains control or bidirectional-override characters that"
            " the approval form cannot show"
        )
    if len(diff) > SHOW_LIMIT:
        return (
            f"the proposed diff is {len(diff)} characters long, more than the {SHOW_LIMIT}"
            " the approval form and the issue can show whole (the run's fix-diff artifact"
            " holds it)"
        )
    return None


def reviewable(proposal: FixProposal, redact: Redactor) -> FixProposal:
    """``proposal`` with its diff and the model's texts redacted; refused if the diff cannot
    be shown whole and unchanged."""
    redacted = redact(proposal.diff)
    update: dict[str, object] = {
        "diff": redacted,
        "summary": redact(proposal.summary),
        "rationale": redact(proposal.rationale),
        "checked": redact(proposal.checked),
    }
    reason = refusal(proposal.diff, redacted) if proposal.awaits_approval else None
    if reason is not None:
        update |= {"status": FixStatus.REFUSED, "reason": reason}
    return proposal.model_copy(update=update)


def showable(diff: str) -> bool:
    return len(diff) <= SHOW_LIMIT
