"""An incident acknowledged in its product (PagerDuty's ``incident.acknowledged``), written
to the run its trigger started and to that run's issue: who acknowledged and when.

Each acknowledgement is claimed in the outbox database by the product's event id, so a
redelivery (also after a restart) writes nothing twice; a claim left unfinished by a
gateway that stopped mid-way is taken over after ``STALE_CLAIM_S``. The issue comment is
an outbox note (written once the run has opened its issue, with the tracker's idempotency
marker); the run gets a log line. When the Prefect API cannot take the line, the claim is
released and the sender is answered 503, so its retry records it.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC

from remediate.catalog import Catalog
from remediate.gateway.notes import catalog_redactor
from remediate.gateway.outbox import Note, Outbox
from remediate.gateway.sources.common import Acknowledged
from remediate.markdown import inline
from remediate.runs.api import PrefectAPI, PrefectAPIError

LOGGER = "remediate.gateway.acknowledgements"
log = logging.getLogger(LOGGER)


class AcknowledgementNotRecorded(Exception):
    """The run could not be told; the sender should deliver the event again."""


def acknowledgement_text(ack: Acknowledged, catalog: Catalog) -> str:
    redact = catalog_redactor(catalog)
    at = ack.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"Acknowledged in {inline(redact(ack.incident.source), 100)} by"
        f" {inline(redact(ack.who), 100)} at {at} (event {inline(ack.event_id, 200)})."
    )


async def record_acknowledgement(
    ack: Acknowledged, outbox: Outbox, prefect: PrefectAPI, catalog: Catalog, now: float
) -> str:
    """What the answer says; raises ``AcknowledgementNotRecorded`` to be delivered again."""
    incident = catalog.attribute(ack.incident)
    remediation = (await outbox.remediations([incident.problem_key])).get(incident.problem_key)
    if remediation is None:
        return f"{ack}; no run was started for this incident, nothing recorded"
    claim = f"acknowledged:{incident.source}:{ack.event_id}"
    if not await outbox.claim(claim, now):
        return f"{ack}; already recorded on run {remediation.flow_run_id}"
    text = acknowledgement_text(ack, catalog)
    digest = hashlib.sha256(claim.encode()).hexdigest()[:20]
    note = Note(
        key=f"acknowledged:{incident.fingerprint}:{digest}",
        fingerprint=incident.fingerprint,
        flow_run_id=remediation.flow_run_id,
        service=incident.service,
        text=text,
        created_at=now,
    )
    try:
        await outbox.commit([], [], [note])
        await prefect.log_to_run(remediation.flow_run_id, logging.INFO, text, LOGGER)
    except PrefectAPIError as exc:
        await outbox.release(claim)
        log.warning("acknowledgement %s not recorded on its run: %s", ack.event_id, exc)
        raise AcknowledgementNotRecorded(str(exc)) from exc
    await outbox.finish(claim)
    return f"{ack}; recorded on run {remediation.flow_run_id} and its issue"
