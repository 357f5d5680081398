"""Incidents across services as Prefect run tags and artifacts, decided under one lock.

Every correlation decision (which incident a run joins, or that it leads its own) and the
lead's closing of its incident (right before its fix proposal) are taken while holding
the Prefect global concurrency limit ``remediate-incident-correlation`` of one slot, so two
runs starting at the same moment cannot both lead, and a run joins either before the lead
reads its members (its evidence goes into the fix proposal) or after (it is late).

A run's role and incident are its tags (``incident-role:lead|member|late``,
``incident:<lead run id>``, ``correlated-by:<basis>.<name>``); the incident's issue is an
artifact of the lead's run (``incident-issue-ref``), each member's evidence an artifact of
its own (``incident-evidence``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import ArtifactCreate, GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import ArtifactSort
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from remediate.runs.tags import Flag, Key, tag
from remediate.trackers.models import IssueRef

LOCK = "remediate-incident-correlation"
LOCK_TIMEOUT_S = 120.0
ISSUE_ARTIFACT = "incident-issue-ref"
EVIDENCE_ARTIFACT = "incident-evidence"
SEARCH_LIMIT = 200


class Role(StrEnum):
    """Values of the ``incident-role:`` tag."""

    LEAD = "lead"
    MEMBER = "member"
    """Joined before the lead closed the incident: its evidence is in the fix proposal."""
    LATE = "late"
    """Joined after the lead's fix proposal started: it is listed on the issue only."""


async def _ensure_lock() -> None:
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(LOCK)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=LOCK, limit=1)
                )


@contextlib.asynccontextmanager
async def correlation_lock() -> AsyncIterator[None]:
    """Held by one run at a time across every worker (strict: a missing limit is an
    error, never an unlocked decision)."""
    await _ensure_lock()
    async with concurrency(LOCK, occupy=1, timeout_seconds=LOCK_TIMEOUT_S, strict=True):
        yield


async def leads_since(since: datetime) -> list[FlowRun]:
    """Runs leading an incident, created since ``since``, newest first."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[tag(Key.INCIDENT_ROLE, Role.LEAD)]),
                expected_start_time=FlowRunFilterExpectedStartTime(after_=since),
            ),
            limit=SEARCH_LIMIT,
        )
    return sorted(runs, key=lambda r: r.created or since, reverse=True)


async def joined(lead_run_id: str, role: Role) -> list[FlowRun]:
    """The runs that joined the incident ``lead_run_id`` leads, with ``role``."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(
                    all_=[tag(Key.INCIDENT, lead_run_id), tag(Key.INCIDENT_ROLE, role)]
                )
            ),
            limit=SEARCH_LIMIT,
        )
    return sorted(runs, key=lambda r: (r.created is None, r.created, str(r.id)))


async def read_run(run_id: str) -> FlowRun:
    async with get_client() as client:
        return await client.read_flow_run(UUID(run_id))


async def _artifact(run_id: str, key: str) -> str | None:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)]),
                key=ArtifactFilterKey(any_=[key]),
            ),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    return str(found[0].data) if found and found[0].data is not None else None


async def _put_artifact(run_id: str, key: str, data: str, description: str) -> None:
    """Once per run and key: a resumed run finds the one it wrote."""
    if await _artifact(run_id, key) is not None:
        return
    async with get_client() as client:
        await client.create_artifact(
            ArtifactCreate(
                key=key,
                type="markdown",
                data=data,
                description=description,
                flow_run_id=UUID(run_id),
            )
        )


async def publish_issue(lead_run_id: str, issue: IssueRef) -> None:
    await _put_artifact(
        lead_run_id,
        ISSUE_ARTIFACT,
        issue.model_dump_json(),
        f"the incident's issue #{issue.number}, for the runs that join it",
    )


async def incident_issue(lead_run_id: str) -> IssueRef | None:
    data = await _artifact(lead_run_id, ISSUE_ARTIFACT)
    return IssueRef.model_validate_json(data) if data is not None else None


async def publish_evidence(run_id: str, markdown: str) -> None:
    await _put_artifact(run_id, EVIDENCE_ARTIFACT, markdown, "this alert's evidence")


async def evidence_of(run_id: str) -> str | None:
    return await _artifact(run_id, EVIDENCE_ARTIFACT)


def closed(run: FlowRun) -> bool:
    return Flag.INCIDENT_CLOSED.value in run.tags
