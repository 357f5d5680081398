"""The approval form: an explicit decision, a one-line effect, refusals that explain."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from remediate.approval.form import (
    ActionApproval,
    approval_description,
    approval_input,
    fix_approval_input,
    refusal,
    refused_description,
)
from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal, FixStatus

DIFF = "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-X = 1\n+X = 2\n"


def test_the_decision_is_required_and_has_no_default() -> None:
    form = fix_approval_input(["alice"], diff_sha256(DIFF))
    schema = form.model_json_schema()
    decision = schema["properties"]["decision"]
    assert "decision" in schema["required"]
    assert "default" not in decision
    assert decision["enum"] == ["approve", "reject"]
    with pytest.raises(ValidationError, match="decision"):
        form(approver="alice", diff_sha256=diff_sha256(DIFF))
    # the initial data the run suspends with adds no decision either
    shown = form.with_initial_data(description="d").model_json_schema()
    assert "default" not in shown["properties"]["decision"]
    assert "decision" in shown["required"]


def test_only_the_explicit_choice_approves() -> None:
    form = approval_input(["alice"], ActionApproval)
    assert form(decision="approve", approver="alice").approved
    assert not form(decision="reject", approver="alice").approved
    with pytest.raises(ValidationError, match="decision"):
        form(decision="yes", approver="alice")


def test_the_fix_form_says_first_what_approving_does() -> None:
    proposal = FixProposal(
        status=FixStatus.PROPOSED, diff=DIFF, files_changed=["app.py"], branch="remediate/a-1"
    )
    first = approval_description(proposal, None, "fix-diff").splitlines()[0]
    assert "**Approve** pushes branch `remediate/a-1`" in first
    assert "opens a pull request" in first and "**reject** pushes nothing" in first


def test_an_approver_no_longer_listed_is_refused_with_the_reason_first() -> None:
    form = approval_input(["alice", "bob"], ActionApproval)
    # the server checks the names in the schema; the flow's refusal checks the catalog now
    assert form.model_json_schema()["properties"]["approver"]["enum"] == ["alice", "bob"]
    decision = form(decision="approve", approver="bob")
    assert refusal(decision, ["alice", "bob"]) is None
    reason = refusal(decision, ["alice"])
    assert reason is not None and "'bob' is not on approval.approvers (now: alice)" in reason
    text = refused_description(reason, "## Proposed fix")
    assert text.startswith("**Decision refused:** 'bob' is not on approval.approvers")
    assert text.endswith("## Proposed fix")
