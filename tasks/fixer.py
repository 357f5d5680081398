"""The fix proposal and its publication as tasks.

Everything before the approval gate must survive the flow being run again from the top
after a suspended run is resumed: the proposal is a persisted result cached per flow run,
already redacted and reviewed (``fixer/review.py``), so nothing unredacted is stored.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact

from remediate.approval.form import FixApproval
from remediate.approval.record import DecisionRecord
from remediate.catalog import Catalog, Service
from remediate.fixer.models import FixProposal, FixStatus, PullRequestRef
from remediate.fixer.prompt import EVIDENCE_LIMIT, evidence_text
from remediate.fixer.propose import propose_fix
from remediate.fixer.pull_request import clone_token, publish_fix
from remediate.fixer.review import reviewable
from remediate.incident.models import Incident
from remediate.investigation.text import investigation_data
from remediate.markdown import fenced
from remediate.runs.cache import PER_FLOW_RUN
from remediate.settings import get_settings


@task(name="propose-fix", cache_policy=PER_FLOW_RUN)
async def propose_fix_task(incident: Incident, catalog: Catalog) -> FixProposal:
    try:
        proposal = await propose_fix(
            incident.alert,
            incident.service,
            catalog.fixer,
            incident.verification,
            incident.diagnosis,
            evidence_text(incident.logs),
            investigation=investigation_data(incident.investigation),
            git_token=clone_token(catalog, incident.service),
            related=[
                (f"{r.service or r.check_id} ({r.check_id})", r.evidence[:EVIDENCE_LIMIT])
                for r in incident.related
                if r.evidence
            ],
        )
    except Exception as exc:  # the flow goes on whatever happens here
        proposal = FixProposal(
            status=FixStatus.FAILED, reason=f"fix proposal crashed: {type(exc).__name__}: {exc}"
        )
    proposal = reviewable(proposal, catalog.redactor())
    get_run_logger().info(
        "fix proposal: %s %s", proposal.status.value, proposal.reason or proposal.summary
    )
    return proposal


@task(name="publish-diff-artifact", cache_policy=PER_FLOW_RUN)
async def publish_diff_artifact(proposal: FixProposal) -> str | None:
    """Once per run, so a resumed run adds no second version of the artifact. Returns the
    artifact's page in the UI (the approval form links it), when the UI's address is known."""
    artifact_id = await acreate_markdown_artifact(
        key="fix-diff",
        markdown=fenced(proposal.diff, "diff"),
        description=f"proposed fix: {proposal.summary[:200]}",
    )
    return get_settings().artifact_url(str(artifact_id))


@task(name="open-pull-request", cache_policy=PER_FLOW_RUN)
def open_pull_request(
    incident: Incident,
    service: Service,
    catalog: Catalog,
    proposal: FixProposal,
    approval: FixApproval,
    decision: DecisionRecord,
) -> PullRequestRef:
    return publish_fix(
        incident.alert,
        service,
        catalog,
        proposal,
        approval,
        decision,
        incident.issue,
        incident.run_url,
        get_settings(),
    )
