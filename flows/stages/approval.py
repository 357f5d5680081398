"""The approval gate: the run suspends until a listed approver decides.

Shared by fix proposals, runbook actions, rollbacks and capacity actions; each waits under
its own suspension key so one run can wait for several decisions in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from prefect import get_run_logger
from prefect.flow_runs import asuspend_flow_run
from prefect.runtime import flow_run

from remediate.approval.attestation import decision_source
from remediate.approval.form import Approval, refusal, refused_description
from remediate.approval.record import DecisionRecord, decided, decision_time
from remediate.catalog import Catalog
from remediate.investigation.models import Hypothesis
from remediate.investigation.text import judgement_comment
from remediate.runs.tags import Judged, Key, retag, tag

MAX_APPROVAL_ROUNDS = 20
A = TypeVar("A", bound=Approval)


async def suspend_for_decision(
    model: type[A], description: str, catalog: Catalog, base_key: str
) -> tuple[A, DecisionRecord]:
    """Suspend under ``base_key`` (then ``base_key-2``, ...) until a listed approver decides;
    returns the decision and its record (who, channel, when the server received it).

    The server refuses input that does not fit the form (its answer names the reason). A
    decision the server accepted but the flow refuses (an approver removed from the catalog
    since the run suspended) is logged and the run suspends again under the next key, with
    a description that leads with the reason, so the person sees it when reopening the form.

    Also returns the channel the decision came through, as far as the run can verify it
    (``remediate/approval/attestation.py``): a Slack or GitHub decision the gateway
    verified, else the name declared behind the Prefect API's shared credential.
    """
    logger = get_run_logger()
    approvers = catalog.approval.approvers
    shown = description
    for round_number in range(1, MAX_APPROVAL_ROUNDS + 1):
        key = base_key if round_number == 1 else f"{base_key}-{round_number}"
        decision = await asuspend_flow_run(
            wait_for_input=model.with_initial_data(description=shown),
            timeout=int(catalog.approval.timeout_s),
            key=key,
        )
        reason = refusal(decision, approvers)
        if reason is None:
            run_id = flow_run.get_id()
            assert run_id is not None  # only a flow run can suspend
            source = await decision_source(run_id, key, decision)
            logger.info(
                "decision %s by %s through %s", decision.decision, decision.approver, source.note
            )
            at = await decision_time(run_id, key)
            return decision, decided(decision, at, source.channel, source.identity)
        logger.warning("decision refused: %s", reason)
        shown = refused_description(reason, description)
    raise RuntimeError(f"no decision from a listed approver after {MAX_APPROVAL_ROUNDS} rounds")


async def record_judgement(
    approval: Approval,
    hypothesis: Hypothesis | None,
    stage: str,
    catalog: Catalog,
    note: Callable[[str, str], None],
) -> None:
    """What the approver said of the investigation's leading hypothesis (shown on the
    form): a run tag, a log line and a note on the issue. Nothing when it was not judged;
    a judgement given on a form that showed no hypothesis is logged and not counted."""
    if approval.hypothesis == "not judged":
        return
    logger = get_run_logger()
    if hypothesis is None:
        logger.warning(
            "%s marked the hypothesis %s, but this form showed none: not recorded",
            approval.approver,
            approval.hypothesis,
        )
        return
    verdict = Judged(approval.hypothesis)
    redactor = catalog.redactor()
    await retag([tag(Key.INVESTIGATION_JUDGED, verdict)], replace=[Key.INVESTIGATION_JUDGED])
    logger.info(
        "investigation's leading hypothesis judged %s by %s at the %s approval: %s",
        verdict.value,
        approval.approver,
        stage,
        redactor(approval.hypothesis_reason) or "no reason given",
    )
    comment = judgement_comment(
        verdict.value, approval.approver, approval.hypothesis_reason, hypothesis, stage, redactor
    )
    note(f"investigation-judged-{stage}", comment)
