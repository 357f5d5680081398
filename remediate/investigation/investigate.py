"""Run one investigation for an incident and check what the model submitted."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from remediate.alerts import Alert
from remediate.catalog import Catalog, Service
from remediate.diagnosis.models import Diagnosis, Verification
from remediate.evidence.models import LogBundle
from remediate.evidence.ssh_connect import KeyLoader, load_client_key
from remediate.investigation.models import Investigation, InvestigationStatus, skipped
from remediate.investigation.prompt import SYSTEM_PROMPT, action_line, build_prompt
from remediate.investigation.submission import checked
from remediate.investigation.tools import Toolbox
from remediate.redaction import Redactor


def skip_reason(service: Service | None, alert: Alert, catalog: Catalog) -> str | None:
    """Why the investigation cannot run for this incident, or None."""
    config = catalog.investigation
    if not config.enabled:
        return "investigations are disabled in the catalog"
    if service is None:
        return f"check {alert.check_id} matches no catalog service"
    if not os.environ.get(config.credential_env):
        return f"no model credential (environment variable {config.credential_env} not set)"
    return None


async def investigate(
    alert: Alert,
    service: Service | None,
    catalog: Catalog,
    redactor: Redactor,
    verification: Verification | None = None,
    diagnosis: Diagnosis | None = None,
    logs: LogBundle | None = None,
    load_key: KeyLoader = load_client_key,
) -> Investigation:
    reason = skip_reason(service, alert, catalog)
    if reason is not None or service is None:
        return skipped(reason or "no service")
    config = catalog.investigation
    credential = os.environ.get(config.credential_env, "")
    toolbox = Toolbox(service, catalog, config, redactor, load_key)
    prompt = build_prompt(
        alert, verification, diagnosis, logs, [action_line(a) for a in service.actions], redactor
    )
    # Imported here: the SDK takes about a second to import, and most runs never get here.
    from remediate.investigation.session import run_investigation_session

    with tempfile.TemporaryDirectory(prefix="remediate-investigate-") as scratch:
        session = await run_investigation_session(
            Path(scratch), prompt, SYSTEM_PROMPT, config, credential, toolbox
        )
    common = {
        "calls": toolbox.calls,
        "turns": session.turns,
        "duration_s": round(session.duration_s, 3),
        "input_tokens": session.input_tokens,
        "output_tokens": session.output_tokens,
        "cost_usd": session.cost_usd,
        "model": config.model,
    }
    if session.submission is None:
        return Investigation(status=InvestigationStatus.FAILED, reason=session.reason, **common)
    hypotheses, next_step = checked(session.submission, toolbox.calls, logs, service, redactor)
    return Investigation(
        status=InvestigationStatus.COMPLETED,
        reason=session.reason,
        summary=redactor(session.submission.summary),
        hypotheses=hypotheses,
        next_step=next_step,
        **common,
    )
