"""The approval a person gives (or refuses) a fix proposal, and the form they see.

The approver field only accepts names on the catalog's allow-list: the form offers exactly
those, and the Prefect server rejects any other name (the run keeps waiting). The name is
whatever the person picks, so the Prefect UI and API must sit behind authentication.

A fix approval also names the sha256 of the diff it approves: the form is pre-filled with
the hash of the diff shown, the server rejects any other value, and the push refuses
unless the branch's diff has that hash.
"""

from __future__ import annotations

from typing import Literal, cast

from prefect.input import RunInput
from pydantic import Field, create_model

from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal
from remediate.markdown import fenced, inline, own_link

SHA256_HEX = r"^[0-9a-f]{64}$"


Decision = Literal["approve", "reject"]
HypothesisJudgement = Literal["not judged", "right", "wrong"]


class Approval(RunInput):
    """A decision. ``decision`` has no default: the form starts with nothing chosen and the
    server refuses a decision without it, so nobody approves or rejects by leaving a field
    as it was."""

    decision: Decision = Field(
        description="Approve or reject. Required: nothing is chosen until you choose."
    )
    approver: str = Field(min_length=1, max_length=100, description="Who decides.")
    comment: str = Field(default="", max_length=2000, description="Why (shown on the issue).")
    hypothesis: HypothesisJudgement = Field(
        default="not judged",
        description=(
            "Optional: was the investigation's leading hypothesis (shown above, when there is"
            " one) right or wrong? Recorded on the run and the issue, counted by the report."
        ),
    )
    hypothesis_reason: str = Field(
        default="", max_length=500, description="Optional: why, in a sentence."
    )

    @property
    def approved(self) -> bool:
        return self.decision == "approve"


class FixApproval(Approval):
    diff_sha256: str = Field(
        pattern=SHA256_HEX, description="sha256 of the diff you decide on (the diff shown above)."
    )


class ActionApproval(Approval):
    """The decision on a runbook action (its description says what approving runs)."""


def refusal(approval: Approval, approvers: list[str]) -> str | None:
    """Why the flow refuses ``approval`` although the server accepted it, or None.

    The server checks the form's schema, which lists the approvers of the moment the run
    suspended; the flow checks the catalog it runs with now, so a name removed since then
    is refused here."""
    if approval.approver not in approvers:
        listed = ", ".join(approvers) or "nobody"
        return (
            f"{approval.approver!r} is not on approval.approvers (now: {listed}); "
            "nothing was decided and the run waits for a listed approver"
        )
    return None


def refused_description(reason: str, description: str) -> str:
    """The form's description for the next round, leading with why the last was refused."""
    return f"**Decision refused:** {inline(reason, 500)}\n\n{description}"


def approval_input(approvers: list[str], base: type[Approval] = Approval) -> type[Approval]:
    """``base`` (an ``Approval``) whose form offers exactly ``approvers``.

    The list is in the JSON schema only: the server validates input against the schema
    stored when the run suspended and refuses any other name. The model itself takes any
    name, so a decision the server accepted still loads when the catalog has changed since
    (the flow then refuses it with a reason, see ``refusal``) instead of failing the run."""
    model: type[Approval] = create_model(
        base.__name__,
        __base__=base,
        approver=(
            str,
            Field(
                min_length=1,
                max_length=100,
                description="Who decides (from the catalog's approvers).",
                json_schema_extra={"enum": list(approvers)},
            ),
        ),
    )
    return model


def fix_approval_input(approvers: list[str], shown_sha256: str) -> type[FixApproval]:
    """A ``FixApproval`` form whose ``diff_sha256`` must be ``shown_sha256``. The hash is a
    default only in the form's schema (the UI pre-fills it); the field stays required, so a
    decision without it is rejected instead of taking whatever hash the run has now."""
    base = cast(type[FixApproval], approval_input(approvers, FixApproval))
    model = create_model(
        FixApproval.__name__,
        __base__=base,
        diff_sha256=(
            str,
            Field(
                pattern=SHA256_HEX,
                description=f"sha256 of the diff you decide on; the diff shown is {shown_sha256}.",
                json_schema_extra={"enum": [shown_sha256], "default": shown_sha256},
            ),
        ),
    )
    return cast(type[FixApproval], model)


def approval_description(
    proposal: FixProposal,
    issue_url: str | None,
    artifact_key: str | None = None,
    artifact_url: str | None = None,
) -> str:
    files = ", ".join(f"`{inline(f, 200)}`" for f in proposal.files_changed) or "none"
    branch = inline(proposal.branch or "-", 200)
    lines = [
        f"**Approve** pushes branch `{branch}` and opens a pull request (nothing is merged);"
        " **reject** pushes nothing.",
        "",
        "## Proposed fix awaiting approval",
        "",
        f"**Summary:** {inline(proposal.summary or 'no summary given', 1000)}",
        "",
        f"**Risk (as assessed by the model):** {proposal.risk.value}",
        "",
        f"**Rationale:** {inline(proposal.rationale or '-', 2000)}",
        "",
        f"**How it was checked:** {inline(proposal.checked or '-', 1000)}",
        "",
        f"**Files changed:** {files}",
        "",
        f"**Branch:** `{branch}` from `{(proposal.base_commit or '-')[:12]}`",
        "",
    ]
    if issue_url:
        lines += [f"**Issue:** {own_link(issue_url, 'open the issue')}", ""]
    if artifact_key:
        where = f"artifact `{artifact_key}`"
        if artifact_url:
            where = own_link(artifact_url, where)
        lines += [f"Full diff: {where} of this run (also under the run's Artifacts tab).", ""]
    if proposal.denials:
        lines += [f"Tool calls denied during the session: {len(proposal.denials)}", ""]
    lines += [
        f"**Diff sha256:** `{diff_sha256(proposal.diff)}` (the form's `diff_sha256`; the"
        " branch is pushed only if its diff has this hash)",
        "",
        "### Diff (computed by git, whole)",
        "",
        fenced(proposal.diff, "diff"),
    ]
    return "\n".join(lines)
