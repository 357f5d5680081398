"""The remediation flow: one run per alert, every step a typed task."""

from __future__ import annotations

import asyncio

import httpx
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_link_artifact, acreate_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.runtime import flow_run

from remediate.actions.text import report_section
from remediate.alerts import Alert
from remediate.catalog import Catalog, Service, StepPolicy, load_catalog
from remediate.diagnosis.models import Diagnosis, Verdict
from remediate.evidence.models import LogBundle
from remediate.fixer.models import FixDecision
from remediate.fixer.prompt import evidence_text
from remediate.incident.models import Occurrences, OutcomeStatus, RemediationOutcome
from remediate.incident.text import incident_report
from remediate.redaction import redact_alert
from remediate.rollback.text import report_section as rollback_section
from remediate.runs.occurrences import alert_resolved, occurrences_of
from remediate.runs.tags import run_tags
from remediate.settings import get_settings
from tasks.diagnose import diagnose
from tasks.fix import fix_and_review, per_flow_run
from tasks.issues import open_or_update_issue
from tasks.logs import catalog_redactor, collect_logs
from tasks.rollback import roll_back_recent_release
from tasks.runbook import act_on_alert
from tasks.verify import unverifiable, verify

# A suspended run re-runs from the top when resumed: steps before the approval gate
# return their first result again instead of probing or writing a second time.
verify = verify.with_options(cache_key_fn=per_flow_run, persist_result=True)
diagnose = diagnose.with_options(cache_key_fn=per_flow_run, persist_result=True)
open_or_update_issue = open_or_update_issue.with_options(
    cache_key_fn=per_flow_run, persist_result=True
)
collect_logs = collect_logs.with_options(cache_key_fn=per_flow_run, persist_result=True)


async def _ensure_tags(alert: Alert, run_id: str) -> None:
    await _add_tags(run_id, run_tags(alert))


async def _add_tags(run_id: str, wanted: list[str]) -> None:
    async with get_client() as client:
        run = await client.read_flow_run(run_id)  # type: ignore[arg-type]
        missing = [t for t in wanted if t not in run.tags]
        if missing:
            await client.update_flow_run(run.id, tags=[*run.tags, *missing])


async def _diagnosis(catalog: Catalog, policy: StepPolicy) -> Diagnosis | None:
    return await diagnose(catalog) if policy.diagnose else None


async def _logs(service: Service | None, catalog: Catalog, policy: StepPolicy) -> LogBundle | None:
    if not policy.collect_logs or service is None or not service.hosts or not service.logs:
        return None
    return await collect_logs(service, catalog)


async def _occurrences(alert: Alert, run_id: str) -> Occurrences | None:
    try:
        return await occurrences_of(alert.fingerprint, alert.fired_at, run_id)
    except (httpx.HTTPError, PrefectHTTPStatusError, ObjectNotFound) as exc:
        get_run_logger().warning("occurrence history unavailable: %s", type(exc).__name__)
        return None


@flow(name="remediate-alert", flow_run_name="{alert.id}", log_prints=True)
async def remediate_alert(alert: Alert) -> RemediationOutcome:
    """Verify, diagnose and record one alert."""
    logger = get_run_logger()
    catalog = load_catalog()
    settings = get_settings()
    run_id = flow_run.get_id()
    run_url = settings.flow_run_url(run_id) if run_id else None

    if alert.service is None:
        service = catalog.service_for_check(alert.check_id)
        if service is not None:
            alert = alert.with_service(service.name)
    service = catalog.service(alert.service)
    if run_id:
        await _ensure_tags(alert, run_id)
    policy = catalog.policy_for(alert.severity)
    redactor = catalog_redactor(catalog)
    alert = redact_alert(alert, redactor)
    occurrences = await _occurrences(alert, run_id) if run_id else None

    verification = None
    if policy.verify:
        if service is None:
            verification = unverifiable(f"no catalog service for check {alert.check_id}")
        else:
            verification = await verify(service, catalog.verification)
        logger.info("verification: %s (%s)", verification.verdict.value, verification.reason)
        if run_id:
            await _add_tags(run_id, [f"verdict:{verification.verdict.value}"])

    if verification is not None and verification.verdict is Verdict.RECOVERED:
        report = incident_report(alert, verification, None, run_url, redactor=redactor)
        await acreate_markdown_artifact(
            key="incident-report", markdown=report, description="self-resolved"
        )
        return RemediationOutcome(
            alert_id=alert.id,
            fingerprint=alert.fingerprint,
            service=alert.service,
            status=OutcomeStatus.SELF_RESOLVED,
            verification=verification,
            flow_run_id=run_id,
        )

    diagnosis, logs = await asyncio.gather(
        _diagnosis(catalog, policy), _logs(service, catalog, policy)
    )
    if diagnosis is not None:
        logger.info("diagnosis: %s", diagnosis.summary)
    if logs is not None:
        logger.info("logs: %s", logs.summary)

    issue = None
    if policy.open_issue:
        issue = open_or_update_issue(
            alert, catalog, verification, diagnosis, run_url, logs, occurrences
        )
        logger.info("issue #%s %s: %s", issue.number, issue.action.value, issue.url)
        await acreate_link_artifact(
            key="incident-issue", link=issue.url, link_text=f"issue #{issue.number}"
        )

    fix = decision = pull = None
    if policy.propose_fix:
        fix, approval, pull = await fix_and_review(
            alert, service, catalog, verification, diagnosis, issue, run_url, evidence_text(logs)
        )
        if approval is not None:
            decision = FixDecision(
                approved=approval.approved, approver=approval.approver, comment=approval.comment
            )

    action = rollback = None
    if policy.run_actions:
        if run_id and await alert_resolved(run_id):
            logger.warning("alert resolved since the run started: runbook action not run")
            await _add_tags(run_id, ["resolved-before:action"])
        else:
            rollback = await roll_back_recent_release(alert, service, catalog, issue)
            if rollback is not None and rollback.action is not None:
                action = rollback.action
            else:
                action = await act_on_alert(alert, service, catalog, issue, diagnosis)

    await acreate_markdown_artifact(
        key="incident-report",
        markdown=incident_report(
            alert,
            verification,
            diagnosis,
            run_url,
            logs,
            redactor=redactor,
            occurrences=occurrences,
        )
        + (rollback_section(rollback) if rollback is not None else "")
        + (report_section(action) if action is not None else ""),
        description=f"{alert.check_id} on {alert.service or 'unknown service'}",
    )
    status = OutcomeStatus.RECORDED
    if issue is not None:
        status = (
            OutcomeStatus.ISSUE_OPENED
            if issue.action.value == "opened"
            else OutcomeStatus.ISSUE_UPDATED
        )
    return RemediationOutcome(
        alert_id=alert.id,
        fingerprint=alert.fingerprint,
        service=alert.service,
        status=status,
        verification=verification,
        diagnosis=diagnosis,
        logs=logs,
        issue=issue,
        flow_run_id=run_id,
        fix=fix,
        fix_decision=decision,
        pull_request=pull,
        action=action,
        rollback=rollback,
    )
