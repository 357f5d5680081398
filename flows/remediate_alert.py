"""The remediation flow: one run per alert, every step a typed task.

Stage order: verify -> diagnose and collect logs (concurrently) -> open or update the
issue (saying why when no investigation can run) -> investigate (a read-only model
session over the catalog's tools; its result is commented on the issue) -> fix proposal
behind the approval gate -> deployment rollback or runbook action behind the same gate.
Each stage takes the :class:`Incident` built so far.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_link_artifact, acreate_markdown_artifact
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.runtime import flow_run

from flows.stages.actions import act_on_alert
from flows.stages.blue_green import switch_recent_color
from flows.stages.controls import charged, held_back, spend_budget_of
from flows.stages.fix import fix_and_review
from flows.stages.incidents import Membership, gather_members, join_issue, join_or_lead, lead_opened
from flows.stages.notices import tell
from flows.stages.rollback import roll_back_recent_release
from remediate.actions.models import ActionOutcome
from remediate.actions.text import incident_artifact_section as action_section
from remediate.alerts import Alert
from remediate.bluegreen.models import SwitchOutcome
from remediate.bluegreen.text import incident_artifact_section as switch_section
from remediate.catalog import Catalog, CatalogError, StepPolicy, load_catalog
from remediate.controls.dry_run import NO_CHANNELS, silent, summary, would_open_issue
from remediate.controls.incident_runs import Role
from remediate.controls.silences import silenced_note
from remediate.diagnosis.models import Diagnosis, Verdict, Verification
from remediate.diagnosis.verify import unverifiable
from remediate.evidence.models import LogBundle
from remediate.fixer.text import report_section
from remediate.incident.draft import issue_draft
from remediate.incident.models import Incident, Occurrences, OutcomeStatus, RemediationOutcome
from remediate.incident.text import investigation_comment, issue_body
from remediate.investigation.investigate import skip_reason
from remediate.investigation.models import Investigation, skipped
from remediate.notifications import events
from remediate.redaction import Redactor, redact_alert
from remediate.rollback.models import RollbackOutcome
from remediate.rollback.text import incident_artifact_section as rollback_section
from remediate.runs.names import run_name
from remediate.runs.occurrences import alert_resolved, occurrences_of
from remediate.runs.tags import (
    Flag,
    Key,
    Stage,
    Would,
    alert_tags,
    retag,
    run_tags,
    tag,
    tag_value,
    tag_values,
)
from remediate.settings import get_settings
from remediate.trackers.models import IssueAction
from tasks.diagnosis import diagnose, verify
from tasks.evidence import collect_logs
from tasks.investigation import investigate_incident
from tasks.trackers import open_or_update_issue, record_on_issue


async def _verification(incident: Incident, catalog: Catalog) -> Verification:
    if incident.service is None:
        return unverifiable(f"no catalog service for check {incident.alert.check_id}")
    return await verify(incident.service, catalog.verification)


async def _diagnosis(catalog: Catalog, policy: StepPolicy) -> Diagnosis | None:
    return await diagnose(catalog) if policy.diagnose else None


async def _logs(incident: Incident, catalog: Catalog, policy: StepPolicy) -> LogBundle | None:
    service = incident.service
    if not policy.collect_logs or service is None or not service.hosts or not service.logs:
        return None
    return await collect_logs(service, catalog)


async def _occurrences(alert: Alert, run_id: str) -> Occurrences | None:
    try:
        return await occurrences_of(alert.fingerprint, alert.fired_at, run_id)
    except (httpx.HTTPError, PrefectHTTPStatusError, ObjectNotFound) as exc:
        get_run_logger().warning("occurrence history unavailable: %s", type(exc).__name__)
        return None


async def _start(alert: Alert, catalog: Catalog, redactor: Redactor) -> Incident:
    """The incident before any step: the alert attributed and redacted, the run tagged."""
    alert = catalog.attribute(alert)
    run_id = flow_run.get_id()
    if run_id:
        await retag(alert_tags(alert), run_id=run_id)
    alert = redact_alert(alert, redactor)
    return Incident(
        alert=alert,
        service=catalog.service(alert.service),
        run_id=run_id,
        run_url=get_settings().flow_run_url(run_id) if run_id else None,
        occurrences=await _occurrences(alert, run_id) if run_id else None,
    )


async def _act(
    incident: Incident, catalog: Catalog
) -> tuple[ActionOutcome | None, RollbackOutcome | None, SwitchOutcome | None]:
    """A rollback of a release that just went live, or a blue-green switch away from a
    color that just went live, else the action the catalog suggests."""
    if incident.run_id and await alert_resolved(incident.run_id):
        get_run_logger().warning("alert resolved since the run started: runbook action not run")
        await retag([tag(Key.RESOLVED_BEFORE, Stage.ACTION)])
        return None, None, None
    rollback = await roll_back_recent_release(incident, catalog)
    if rollback is not None and rollback.action is not None:
        return rollback.action, rollback, None
    switch = await switch_recent_color(incident, catalog)
    if switch is not None and switch.action is not None:
        return switch.action, rollback, switch
    return await act_on_alert(incident, catalog), rollback, switch


def _silenced_by() -> str | None:
    """The maintenance window or silence the gateway found this alert inside, from the tags
    it created the run with."""
    tags = flow_run.get_tags() or []
    if Flag.SILENCED not in tags:
        return None
    return tag_value(tags, Key.SILENCE) or "silence.unknown"


async def _investigation(incident: Incident, catalog: Catalog) -> Investigation:
    """The investigation, unless the model spend cap holds it back (the pause does not:
    an investigation only reads), its cost charged to the cap afterwards."""
    spend = spend_budget_of(catalog)
    stop = await held_back("investigation", "Investigation", catalog, None, spend, pause=False)
    if stop is not None:
        return skipped(stop)
    investigation = await investigate_incident(incident, catalog)
    await charged("investigation", spend, investigation.cost_usd)
    return investigation


class FixNotPublished(Exception):
    """Ends a run whose approved fix did not reach its repository (the run is Failed)."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"approved fix not published: {cause}")


def _resumed() -> bool:
    """Whether this run already ran up to a suspension (resumed) or before (retried)."""
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    if run is None:
        return False
    return bool(run.empirical_policy.pause_keys) or flow_run.get_run_count() > 1


def _status(incident: Incident) -> OutcomeStatus:
    if incident.issue is None:
        return OutcomeStatus.RECORDED
    if incident.issue.action.value == "opened":
        return OutcomeStatus.ISSUE_OPENED
    return OutcomeStatus.ISSUE_UPDATED


def _run_name() -> str:
    """The readable name of the current run, from its ``alert`` parameter (attributed to a
    service here when whoever created the run did not attribute it)."""
    alert = Alert.model_validate(flow_run.get_parameters()["alert"])
    if alert.service is None:
        # on a catalog error the flow body reports it; the name goes without a service
        with contextlib.suppress(CatalogError):
            alert = load_catalog().attribute(alert)
    return run_name(alert)


async def _tag_investigation(investigation: Investigation) -> None:
    tags = [
        tag(Key.INVESTIGATION, investigation.status.value),
        tag(Key.INVESTIGATION_COST, round(investigation.cost_usd, 6)),
    ]
    if investigation.suggested_action:
        tags.append(tag(Key.INVESTIGATION_ACTION, investigation.suggested_action))
    await retag(tags)


@flow(name="remediate-alert", flow_run_name=_run_name, log_prints=True)
async def remediate_alert(alert: Alert) -> RemediationOutcome:
    """Verify, diagnose and record one alert."""
    logger = get_run_logger()
    catalog = load_catalog()
    redactor = catalog.redactor()
    incident = await _start(alert, catalog, redactor)
    resumed = _resumed()
    if resumed:
        logger.info(
            "resumed (attempt %d): steps before the approval gate return this run's cached"
            " results; nothing is probed, written or proposed again",
            flow_run.get_run_count(),
        )
    alert = incident.alert
    policy = catalog.policy_for(alert.severity)
    silenced_by = _silenced_by()
    if silenced_by is not None:
        logger.warning(
            "alert received inside %s: recorded only; no investigation, fix or action",
            silenced_by,
        )
    told = catalog
    if catalog.controls.dry_run.covers(alert.service, alert.severity):
        logger.warning(
            "dry run: every step computes what it would do and records it as an artifact;"
            " nothing is written to the tracker, pushed, run or sent"
        )
        await retag([Flag.DRY_RUN])
        incident = incident.model_copy(update={"dry_run": True})
        # no stage of a shadow run can reach a channel: they see none
        catalog = catalog.model_copy(
            update={"approval": silent(catalog.approval), "notifications": NO_CHANNELS}
        )

    if policy.verify:
        verification = await _verification(incident, catalog)
        incident = incident.model_copy(update={"verification": verification})
        logger.info("verification: %s (%s)", verification.verdict.value, verification.reason)
        await retag([tag(Key.VERDICT, verification.verdict)])
        if verification.verdict is Verdict.RECOVERED:
            await acreate_markdown_artifact(
                key="incident-report",
                markdown=issue_body(incident.model_copy(update={"occurrences": None}), redactor),
                description="self-resolved",
            )
            return RemediationOutcome(
                alert_id=alert.id,
                fingerprint=alert.fingerprint,
                service=alert.service,
                status=OutcomeStatus.SELF_RESOLVED,
                verification=verification,
                flow_run_id=incident.run_id,
            )

    opens_issue = policy.open_issue and (silenced_by is None or policy.open_issue_when_silenced)
    membership: Membership | None = None
    if opens_issue and silenced_by is None and not incident.dry_run:
        membership = await join_or_lead(incident, catalog)
    member = membership is not None and membership.role is not Role.LEAD

    diagnosis, logs = await asyncio.gather(
        _diagnosis(catalog, policy), _logs(incident, catalog, policy)
    )
    incident = incident.model_copy(update={"diagnosis": diagnosis, "logs": logs})
    if diagnosis is not None:
        logger.info("diagnosis: %s", diagnosis.summary)
    if logs is not None:
        logger.info("logs: %s", logs.summary)

    if policy.investigate:
        reason = (
            f"the alert arrived inside {silenced_by}"
            if silenced_by is not None
            else skip_reason(incident.service, incident.alert, catalog)
        )
        if reason is not None:
            incident = incident.model_copy(update={"investigation": skipped(reason)})

    if member:
        assert membership is not None
        joined = await join_issue(incident, catalog, membership)
        if joined is not None:
            opens_issue = False
            part_of = f"the alert is part of the incident led by run {membership.lead_run_id}"
            incident = incident.model_copy(
                update={
                    "issue": joined,
                    "issue_of": membership.lead_service,
                    "investigation": skipped(part_of) if policy.investigate else None,
                }
            )
        else:  # the lead opened no issue: this run leads an incident of its own
            membership = Membership(Role.LEAD, str(incident.run_id), incident.service, "")
            member = False
    if opens_issue and incident.dry_run:
        draft = issue_draft(incident, redactor)
        await acreate_markdown_artifact(
            key="dry-run-issue",
            markdown=would_open_issue(draft.title, draft.labels, draft.body, draft.comment),
            description="dry run: the issue it would open",
        )
        await retag([tag(Key.WOULD, Would.OPEN_ISSUE)])
    elif opens_issue:
        issue = open_or_update_issue(incident, catalog)
        incident = incident.model_copy(update={"issue": issue})
        if resumed:
            logger.info(
                "issue #%s (cached from this run's first attempt): %s", issue.number, issue.url
            )
        else:
            logger.info("issue #%s %s: %s", issue.number, issue.action.value, issue.url)
        if issue.action is IssueAction.OPENED:
            await tell(events.issue_opened(incident.alert, issue, incident.run_url), catalog)
        await acreate_link_artifact(
            key="incident-issue", link=issue.url, link_text=f"issue #{issue.number}"
        )
        await lead_opened(incident, membership)

    if policy.investigate and incident.investigation is None:
        investigation = await _investigation(incident, catalog)
        incident = incident.model_copy(update={"investigation": investigation})
        if incident.issue is not None:
            record_on_issue(
                catalog,
                incident.service,
                incident.issue,
                incident.key("investigation"),
                investigation_comment(investigation, redactor),
            )
    if incident.investigation is not None:
        await _tag_investigation(incident.investigation)

    if silenced_by is not None and incident.issue is not None:
        record_on_issue(
            catalog,
            incident.service,
            incident.issue,
            incident.key("silenced"),
            silenced_note(silenced_by, catalog.controls),
        )

    fix = decision = pull = not_published = None
    if member:
        logger.info("no fix proposal: the incident's lead run proposes one with this evidence")
    elif policy.propose_fix and silenced_by is None:
        incident = await gather_members(incident, catalog, membership)
        fix, _, decision, pull, not_published = await fix_and_review(incident, catalog)

    action = rollback = switch = None
    if policy.run_actions and silenced_by is None:
        action, rollback, switch = await _act(incident, catalog)

    await acreate_markdown_artifact(
        key="incident-report",
        markdown=redactor(
            issue_body(incident, redactor)
            + (rollback_section(rollback) if rollback is not None else "")
            + (switch_section(switch) if switch is not None else "")
            + (action_section(action) if action is not None else "")
            + (
                report_section(
                    fix, decision, pull.url if pull else None, not_published, incident.run_id
                )
                if fix is not None
                else ""
            )
        ),
        description=f"{alert.check_id} on {alert.service or 'unknown service'}",
    )
    outcome = RemediationOutcome(
        alert_id=alert.id,
        fingerprint=alert.fingerprint,
        service=alert.service,
        status=_status(incident),
        verification=incident.verification,
        diagnosis=diagnosis,
        logs=logs,
        investigation=incident.investigation,
        issue=incident.issue,
        flow_run_id=incident.run_id,
        fix=fix,
        fix_decision=decision,
        pull_request=pull,
        action=action,
        rollback=rollback,
        switch=switch,
        silenced_by=silenced_by,
        dry_run=incident.dry_run,
    )
    if incident.dry_run and incident.run_id:
        would = tag_values(await run_tags(incident.run_id), Key.WOULD)
        await tell(events.dry_run(alert, summary(would), incident.run_url), told)
    if not_published is not None:
        # an approved fix that is not in its repository must not look like success
        raise FixNotPublished(not_published)
    return outcome
