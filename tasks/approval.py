"""Telling people about decisions, and recording them on the run, as tasks done once."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run

from remediate.approval.notify import (
    Delivery,
    notify,
    publish_failed_payload,
    webhook_payload,
)
from remediate.approval.record import DecisionRecord, record_on_run
from remediate.catalog import Catalog
from remediate.controls import audit
from remediate.fixer.models import FixProposal
from remediate.incident.models import Incident
from remediate.runs.cache import PER_FLOW_RUN, per_flow_run_and


def _log(deliveries: list[Delivery], what: str) -> None:
    logger = get_run_logger()
    for delivery in deliveries:
        if delivery.ok:
            logger.info("%s sent to %s", what, delivery.channel)
        else:
            logger.warning("%s to %s failed: %s", what, delivery.channel, delivery.detail)


@task(name="notify-approvers", cache_policy=PER_FLOW_RUN)
async def notify_approvers(
    incident: Incident, proposal: FixProposal, catalog: Catalog
) -> list[Delivery]:
    """Once per run: a resumed run finds this result cached and sends nothing again."""
    issue = incident.issue
    payload = webhook_payload(
        incident.alert,
        proposal,
        flow_run.get_id(),
        incident.run_url,
        issue.url if issue else None,
    )
    deliveries = await notify(catalog.approval.notify, payload)
    _log(deliveries, "approval request")
    return deliveries


@task(name="notify-publish-failed", cache_policy=per_flow_run_and("attempt"))
async def notify_publish_failed(
    incident: Incident,
    proposal: FixProposal,
    decision: DecisionRecord,
    cause: str,
    attempt: int,
    catalog: Catalog,
) -> list[Delivery]:
    """Once per publication ``attempt`` (``record.publication_attempt``): the run
    re-executed for another decision finds this result cached and sends nothing again."""
    issue = incident.issue
    payload = publish_failed_payload(
        incident.alert,
        proposal,
        decision,
        catalog.redactor()(cause),
        incident.run_id or "",
        incident.run_url,
        issue.url if issue else None,
    )
    deliveries = await notify(catalog.approval.notify, payload)
    _log(deliveries, "publish failure")
    return deliveries


@task(name="record-decision", cache_policy=per_flow_run_and("key", "suspension"))
async def record_decision(key: str, suspension: str, subject: str, record: DecisionRecord) -> str:
    """The decision as the run's ``key`` artifact (``fix-decision``, ``action-decision``),
    once per suspension: a resumed run finds the returned artifact id cached and adds no
    second version."""
    artifact_id = await acreate_markdown_artifact(
        key=key, markdown=record.markdown(subject), description=f"{subject}: {record.line()}"[:500]
    )
    await audit.write(audit.decision_entry(key, subject, record), flow_run.get_id())
    return str(artifact_id)


@task(name="record-decision-on-run")
async def record_decision_on_run(
    run_id: str, key: str, subject: str, record: DecisionRecord
) -> bool:
    """The decision as artifact ``key`` of another run, once (``record.record_on_run``)."""
    recorded = await record_on_run(run_id, key, subject, record)
    if recorded:
        await audit.write(audit.decision_entry(key, subject, record), run_id)
    return recorded
