"""A proposal is approvable only when its diff is shown whole, unredacted and unaltered."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from remediate.approval.form import approval_description, fix_approval_input
from remediate.fixer.git import diff_sha256
from remediate.fixer.models import FixProposal, FixStatus, Risk
from remediate.fixer.review import SHOW_LIMIT, reviewable
from remediate.fixer.text import proposal_comment
from remediate.redaction import Redactor

SECRET = "ghp_" + "Q7mZ2xK9pL4vR8tY1wE6uI3oA5sD0fG2hJ4k"


def diff_adding(line: str) -> str:
    return (
        "diff --git a/app.py b/app.py\n"
        "index 74cc72f..014e347 100644\n"
        "--- a/app.py\n"
        "+++ b/app.py\n"
        "@@ -1 +1,2 @@\n"
        " TIMEOUT_S = 0.001\n"
        f"+{line}\n"
    )


def proposed(diff: str) -> FixProposal:
    return FixProposal(
        status=FixStatus.PROPOSED,
        summary="raise the timeout",
        risk=Risk.LOW,
        branch="remediate/a-1",
        files_changed=["app.py"],
        diff=diff,
    )


def test_a_plain_diff_stays_approvable_and_is_shown_whole_with_its_hash() -> None:
    body = "\n".join(f"+LINE_{n} = {n}" for n in range(2_000))
    diff = diff_adding("X = 1") + body + "\n"
    assert 6_000 < len(diff) <= SHOW_LIMIT
    proposal = reviewable(proposed(diff), Redactor())
    assert proposal.awaits_approval and proposal.diff == diff
    description = approval_description(proposal, None)
    assert body in description and diff_sha256(diff) in description
    assert body in proposal_comment(proposal)


def test_a_secret_in_the_diff_is_never_shown_and_not_approvable() -> None:
    proposal = reviewable(proposed(diff_adding(f'TOKEN = "{SECRET}"')), Redactor())
    assert proposal.status is FixStatus.REFUSED
    assert "looks like a secret" in proposal.reason
    assert SECRET not in proposal.model_dump_json()
    comment = proposal_comment(proposal)
    assert SECRET not in comment and "REDACTED" in comment


def test_a_secret_in_the_model_text_is_redacted() -> None:
    proposal = proposed(diff_adding("X = 1")).model_copy(update={"rationale": f"used {SECRET}"})
    reviewed = reviewable(proposal, Redactor())
    assert reviewed.awaits_approval and SECRET not in reviewed.model_dump_json()


def test_an_oversize_diff_is_not_approvable_and_not_cut_into_the_issue() -> None:
    diff = diff_adding("X = 1") + "".join(f"+Y{n} = {n}\n" for n in range(SHOW_LIMIT // 8))
    assert len(diff) > SHOW_LIMIT
    proposal = reviewable(proposed(diff), Redactor())
    assert proposal.status is FixStatus.REFUSED
    assert f"{len(diff)} characters" in proposal.reason and "fix-diff" in proposal.reason
    assert proposal.diff == diff
    comment = proposal_comment(proposal)
    assert "+Y1 = 1" not in comment and "Diff not shown" in comment


def test_hidden_characters_in_the_diff_make_it_not_approvable() -> None:
    proposal = reviewable(proposed(diff_adding('ok = "admin\u202e \u2066// x"')), Redactor())
    assert proposal.status is FixStatus.REFUSED
    assert "bidirectional" in proposal.reason


def test_the_form_requires_the_shown_hash() -> None:
    shown = diff_sha256(diff_adding("X = 1"))
    form = fix_approval_input(["alice"], shown)
    schema = form.model_json_schema()
    field = schema["properties"]["diff_sha256"]
    assert "diff_sha256" in schema["required"]
    assert field["default"] == shown and field["enum"] == [shown]
    assert form(decision="approve", approver="alice", diff_sha256=shown).diff_sha256 == shown
    with pytest.raises(ValidationError, match="diff_sha256"):
        form(decision="approve", approver="alice")
