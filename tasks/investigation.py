"""The investigation as a task, cached per flow run so a resumed run does not repeat it.

Every tool call, its validated input and its redacted answer go to the run log and to the
``investigation`` artifact.
"""

from __future__ import annotations

import json

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact

from remediate.catalog import Catalog
from remediate.incident.models import Incident
from remediate.investigation.investigate import investigate
from remediate.investigation.models import Investigation, InvestigationStatus
from remediate.investigation.text import investigation_section
from remediate.markdown import fenced
from remediate.runs.cache import PER_FLOW_RUN


@task(name="investigate", cache_policy=PER_FLOW_RUN)
async def investigate_incident(incident: Incident, catalog: Catalog) -> Investigation:
    logger = get_run_logger()
    redactor = catalog.redactor()
    try:
        result = await investigate(
            incident.alert,
            incident.service,
            catalog,
            redactor,
            incident.verification,
            incident.diagnosis,
            incident.logs,
        )
    except Exception as exc:  # the flow goes on whatever happens here
        result = Investigation(
            status=InvestigationStatus.FAILED,
            reason=redactor(f"investigation crashed: {type(exc).__name__}: {exc}"),
        )
    for call in result.calls:
        logger.info(
            "investigation %s %s (%s) input %s: %s",
            call.id,
            call.tool,
            "refused" if call.refused else "ran",
            json.dumps(call.input),
            call.output[:2_000],
        )
    logger.info("investigation: %s %s", result.status.value, result.reason or result.summary)
    calls = json.dumps([c.model_dump(mode="json") for c in result.calls], indent=2)
    await acreate_markdown_artifact(
        key="investigation",
        markdown=redactor(
            investigation_section(result, redactor)
            + "\n\n## Tool calls\n\n"
            + fenced(calls, "json")
        ),
        description=f"investigation: {result.status.value}",
    )
    return result
