"""Telling approvers that a decision waits, as a task sent once per run."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.runtime import flow_run

from remediate.approval.notify import Delivery, notify, webhook_payload
from remediate.catalog import Catalog
from remediate.fixer.models import FixProposal
from remediate.incident.models import Incident
from remediate.runs.cache import PER_FLOW_RUN


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
    logger = get_run_logger()
    for delivery in deliveries:
        if delivery.ok:
            logger.info("approval request sent to %s", delivery.channel)
        else:
            logger.warning("approval request to %s failed: %s", delivery.channel, delivery.detail)
    return deliveries
