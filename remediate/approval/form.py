"""The approval a person gives (or refuses) a fix proposal, and the form they see.

The approver field only accepts names on the catalog's allow-list: the form offers exactly
those, and the Prefect server rejects any other name (the run keeps waiting). The name is
whatever the person picks, so the Prefect UI and API must sit behind authentication.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect.input import RunInput
from pydantic import Field, create_model

from remediate.fixer.models import FixProposal
from remediate.markdown import fenced, inline

DESCRIPTION_DIFF_LIMIT = 6000


class Approval(RunInput):
    approved: bool = Field(default=False, description="Approve: push the branch and open a PR.")
    approver: str = Field(min_length=1, max_length=100, description="Who decides.")
    comment: str = Field(default="", max_length=2000, description="Why (shown on the issue).")


class ActionApproval(Approval):
    approved: bool = Field(default=False, description="Approve: run the action.")


def approval_input(approvers: list[str], base: type[Approval] = Approval) -> type[Approval]:
    """``base`` (an ``Approval``) whose approver must be one of ``approvers``."""
    names: Any = Literal[tuple(approvers)]
    model: type[Approval] = create_model(
        base.__name__,
        __base__=base,
        approver=(
            names,
            Field(
                description="Who decides (from the catalog's approvers).",
                json_schema_extra={"enum": list(approvers)},
            ),
        ),
    )
    return model


def trimmed_diff(diff: str, limit: int = DESCRIPTION_DIFF_LIMIT) -> str:
    if len(diff) <= limit:
        return diff
    return diff[:limit] + f"\n... ({len(diff) - limit} more characters in the run's artifact)\n"


def approval_description(
    proposal: FixProposal, issue_url: str | None, artifact_key: str | None = None
) -> str:
    files = ", ".join(f"`{inline(f, 200)}`" for f in proposal.files_changed) or "none"
    lines = [
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
        f"**Branch:** `{inline(proposal.branch or '-', 200)}` from "
        f"`{(proposal.base_commit or '-')[:12]}`",
        "",
    ]
    if issue_url:
        lines += [f"**Issue:** {issue_url}", ""]
    if artifact_key:
        lines += [f"Full diff: artifact `{artifact_key}` of this run.", ""]
    if proposal.denials:
        lines += [f"Tool calls denied during the session: {len(proposal.denials)}", ""]
    lines += ["### Diff (computed by git)", "", fenced(trimmed_diff(proposal.diff), "diff")]
    lines += [
        "",
        "Approving pushes the branch and opens a pull request; nothing is merged.",
    ]
    return "\n".join(lines)
