"""Incidents across services, as the remediation flow takes part in one.

After verification a run either joins the incident of a run whose alert correlates with
its own (a *member*: it publishes its evidence, comments its alert on the incident's
issue and proposes no fix) or leads one of its own. Before its fix proposal a lead holds
until every service sharing a dependency with it has joined or the window has passed,
closes the incident, waits for its members' evidence and proposes one fix with all of
it. The decisions are taken under one lock (see :mod:`remediate.controls.incident_runs`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prefect import get_run_logger
from prefect.artifacts import acreate_link_artifact
from prefect.client.schemas.objects import FlowRun

from remediate.alerts import Alert
from remediate.catalog import Catalog, Service
from remediate.controls.audit import AuditEntry, Kind
from remediate.controls.config import Incidents
from remediate.controls.incident_runs import (
    Role,
    closed,
    correlation_lock,
    evidence_of,
    incident_issue,
    joined,
    leads_since,
    publish_evidence,
    publish_issue,
    read_run,
)
from remediate.controls.incidents import Correlation, Party, correlate, partners
from remediate.incident.models import Incident, RelatedAlert
from remediate.incident.text import BODY_BUDGET, issue_body
from remediate.markdown import inline
from remediate.runs.tags import Flag, Key, retag, run_tags, tag, tag_value
from remediate.trackers.models import IssueAction, IssueRef
from tasks.controls import record_audit
from tasks.trackers import comment_on_issue

POLL_S = 1.0
MEMBER_BODY_LIMIT = BODY_BUDGET - 4_096
"""A member's evidence, so that its comment (with the explanation around it) fits an issue
comment whole."""


@dataclass(frozen=True)
class Membership:
    role: Role
    lead_run_id: str
    lead_service: Service | None
    why: str
    """The explanation (empty for a lead)."""


def _party(alert: Alert, service: Service | None) -> Party:
    return Party(alert, tuple(service.dependencies) if service is not None else ())


def _lead_alert(run: FlowRun, catalog: Catalog) -> tuple[Alert, Service | None] | None:
    try:
        alert = Alert.model_validate(run.parameters["alert"])
    except (KeyError, ValueError):
        return None
    service = tag_value(run.tags, Key.SERVICE)
    if service is not None and alert.service is None:
        alert = alert.with_service(service)
    return alert, catalog.service(alert.service)


async def _resumed_membership(tags: list[str], catalog: Catalog) -> Membership | None:
    """The decision this run took on an earlier attempt."""
    role, lead = tag_value(tags, Key.INCIDENT_ROLE), tag_value(tags, Key.INCIDENT)
    if role is None or lead is None:
        return None
    lead_run = await read_run(lead)
    found = _lead_alert(lead_run, catalog)
    why = f"correlated by {tag_value(tags, Key.CORRELATED_BY)} (decided on an earlier attempt)"
    return Membership(Role(role), lead, found[1] if found else None, why)


async def _join(
    incident: Incident, catalog: Catalog, config: Incidents, since: datetime, me: Party
) -> tuple[Membership, Correlation] | None:
    """Join the newest open incident whose lead's alert correlates with this one (the
    caller holds the lock)."""
    for lead in await leads_since(since):
        if str(lead.id) == incident.run_id:
            continue
        found = _lead_alert(lead, catalog)
        if found is None:
            continue
        correlation = correlate(_party(*found), me, config)
        if correlation is None:
            continue
        role = Role.LATE if closed(lead) else Role.MEMBER
        await retag(
            [
                tag(Key.INCIDENT, lead.id),
                tag(Key.INCIDENT_ROLE, role),
                tag(Key.CORRELATED_BY, correlation.tag_value),
            ]
        )
        return Membership(role, str(lead.id), found[1], correlation.text), correlation
    return None


async def join_or_lead(incident: Incident, catalog: Catalog) -> Membership | None:
    """This run's place in an incident across services; None when the catalog does not
    correlate alerts."""
    config = catalog.controls.incidents
    run_id = incident.run_id
    if config is None or run_id is None:
        return None
    earlier = await _resumed_membership(await run_tags(run_id), catalog)
    if earlier is not None:
        return earlier
    me = _party(incident.alert, incident.service)
    oldest = min(datetime.now(UTC), incident.alert.fired_at)
    since = oldest - timedelta(seconds=config.window_s + config.wait_s)
    logger = get_run_logger()
    async with correlation_lock():
        joining = await _join(incident, catalog, config, since, me)
        if joining is None:
            await retag([tag(Key.INCIDENT, run_id), tag(Key.INCIDENT_ROLE, Role.LEAD)])
    if joining is not None:
        membership, correlation = joining
        logger.info(
            "joins the incident of run %s (%s): %s",
            membership.lead_run_id,
            membership.role,
            correlation.text,
        )
        entry = AuditEntry(
            at=datetime.now(UTC),
            kind=Kind.INCIDENT_JOINED,
            subject=membership.lead_run_id,
            verdict=membership.role.value,
            control=correlation.tag_value,
            reason=correlation.text,
        )
        await record_audit("incident-joined", entry)
        return membership
    logger.info("leads an incident: no correlating alert in the window")
    return Membership(Role.LEAD, run_id, incident.service, "")


async def _wait_for_issue(lead_run_id: str, wait_s: float) -> IssueRef | None:
    """The incident's issue once its lead has opened it; None if the lead ended without
    one or ``wait_s`` passed."""
    deadline = time.monotonic() + wait_s
    while True:
        issue = await incident_issue(lead_run_id)
        if issue is not None:
            return issue
        lead = await read_run(lead_run_id)
        if (lead.state is not None and lead.state.is_final()) or time.monotonic() > deadline:
            return None
        await asyncio.sleep(POLL_S)


def member_comment(incident: Incident, membership: Membership, body: str) -> str:
    alert = incident.alert
    late = (
        " It joined after the lead's fix proposal had started: its evidence is not in it."
        if membership.role is Role.LATE
        else " Its evidence goes into the lead's fix proposal; it proposes no fix of its own."
    )
    run = f" ([run]({incident.run_url}))" if incident.run_url else ""
    return (
        f"**Part of this incident:** alert `{inline(alert.check_id, 200)}` on"
        f" `{inline(alert.service or 'unknown service', 200)}`"
        f" (fingerprint `{inline(alert.fingerprint, 130)}`){run}.\n\n"
        f"Correlated with the run leading this incident (`{membership.lead_run_id}`):"
        f" {inline(membership.why, 1000)}.{late}\n\n"
        f"<details><summary>This alert's evidence</summary>\n\n{body}\n\n</details>"
    )


async def join_issue(
    incident: Incident, catalog: Catalog, membership: Membership
) -> IssueRef | None:
    """A member's evidence for the lead, then its alert on the incident's issue; None when
    no issue came (the run then goes on as an incident of its own)."""
    config = catalog.controls.incidents
    assert config is not None and incident.run_id is not None
    logger = get_run_logger()
    body = issue_body(incident, catalog.redactor(), limit=MEMBER_BODY_LIMIT)
    await publish_evidence(incident.run_id, body)
    await retag([Flag.INCIDENT_EVIDENCE])
    issue = await _wait_for_issue(membership.lead_run_id, config.wait_s)
    if issue is None:
        logger.warning(
            "the incident's lead run %s opened no issue: this alert goes on as its own incident",
            membership.lead_run_id,
        )
        await retag(
            [tag(Key.INCIDENT, incident.run_id), tag(Key.INCIDENT_ROLE, Role.LEAD)],
            replace=[Key.INCIDENT, Key.INCIDENT_ROLE, Key.CORRELATED_BY],
        )
        return None
    comment_on_issue(
        catalog,
        membership.lead_service,
        issue.number,
        incident.key("incident-member"),
        member_comment(incident, membership, body),
    )
    await acreate_link_artifact(
        key="incident-issue", link=issue.url, link_text=f"issue #{issue.number} (incident)"
    )
    logger.info("alert commented on the incident's issue #%s: %s", issue.number, issue.url)
    return issue.model_copy(update={"action": IssueAction.COMMENTED})


async def lead_opened(incident: Incident, membership: Membership | None) -> None:
    """The lead's issue, for the runs that join its incident."""
    if membership is None or membership.role is not Role.LEAD or incident.issue is None:
        return
    assert incident.run_id is not None
    await publish_issue(incident.run_id, incident.issue)


async def _hold(incident: Incident, catalog: Catalog, config: Incidents) -> None:
    """Until every service sharing a dependency with this one has joined, or the window
    since this alert started has passed (with correlation rules, any alert may join: the
    whole window)."""
    assert incident.run_id is not None
    wanted = partners(
        incident.alert.service, {s.name: tuple(s.dependencies) for s in catalog.services}
    )
    if not wanted and not config.rules:
        return  # no other service can join: nothing to hold for
    # an alert stamped in the future (a sender's clock ahead) holds no longer than the window
    until = min(incident.alert.fired_at, datetime.now(UTC)) + timedelta(seconds=config.window_s)
    while datetime.now(UTC) < until:
        members = await joined(incident.run_id, Role.MEMBER)
        services = {tag_value(m.tags, Key.SERVICE) for m in members}
        if wanted and wanted <= services:
            return
        await asyncio.sleep(POLL_S)


async def _related(run: FlowRun, lead: Party, config: Incidents, catalog: Catalog) -> RelatedAlert:
    member = _lead_alert(run, catalog)
    correlation: Correlation | None = None
    if member is not None:
        correlation = correlate(lead, _party(*member), config)
    return RelatedAlert(
        run_id=str(run.id),
        service=tag_value(run.tags, Key.SERVICE),
        check_id=tag_value(run.tags, Key.CHECK) or "unknown",
        fingerprint=tag_value(run.tags, Key.FINGERPRINT) or "unknown",
        correlation=correlation.text
        if correlation
        else str(tag_value(run.tags, Key.CORRELATED_BY)),
    )


async def _evidence(related: RelatedAlert, deadline: float) -> RelatedAlert:
    while True:
        evidence = await evidence_of(related.run_id)
        if evidence is not None:
            return related.model_copy(update={"evidence": evidence})
        run = await read_run(related.run_id)
        if (run.state is not None and run.state.is_final()) or time.monotonic() > deadline:
            return related
        await asyncio.sleep(POLL_S)


def lead_comment(related: tuple[RelatedAlert, ...], incident: Incident) -> str:
    alert = incident.alert
    lines = [
        f"**Incident across services:** this issue covers {len(related) + 1} alerts. The fix"
        " proposal is made once, by this issue's run, with the evidence of each.",
        "",
        f"- `{inline(alert.check_id, 200)}` on `{inline(alert.service or 'unknown', 200)}`"
        f" (fingerprint `{inline(alert.fingerprint, 130)}`): leads the incident",
    ]
    for r in related:
        got = "evidence included" if r.evidence else "no evidence came in time"
        lines.append(
            f"- `{inline(r.check_id, 200)}` on `{inline(r.service or 'unknown', 200)}`"
            f" (fingerprint `{inline(r.fingerprint, 130)}`, run `{r.run_id}`):"
            f" {inline(r.correlation, 1000)}; {got}"
        )
    return "\n".join(lines)


async def gather_members(
    incident: Incident, catalog: Catalog, membership: Membership | None
) -> Incident:
    """A lead's incident with its members' evidence, the incident closed to further
    members, and the list on the issue."""
    config = catalog.controls.incidents
    if membership is None or membership.role is not Role.LEAD or config is None:
        return incident
    assert incident.run_id is not None
    logger = get_run_logger()
    if Flag.INCIDENT_CLOSED.value not in await run_tags(incident.run_id):
        await _hold(incident, catalog, config)
        async with correlation_lock():
            await retag([Flag.INCIDENT_CLOSED])
    members = await joined(incident.run_id, Role.MEMBER)
    if not members:
        return incident
    lead = _party(incident.alert, incident.service)
    deadline = time.monotonic() + config.wait_s
    related = tuple(
        [await _evidence(await _related(m, lead, config, catalog), deadline) for m in members]
    )
    logger.info(
        "incident closed with %d other alert(s): %s",
        len(related),
        ", ".join(f"{r.check_id} on {r.service}" for r in related),
    )
    if incident.issue is not None:
        comment_on_issue(
            catalog,
            incident.service,
            incident.issue.number,
            incident.key("incident"),
            lead_comment(related, incident),
        )
    return incident.model_copy(update={"related": related})
