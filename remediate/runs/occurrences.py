"""How often a fingerprint fired, from the tagged run history on the Prefect server."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from remediate.alerts import utc
from remediate.incident.models import Occurrences
from remediate.runs.tags import (
    FLAPPING_TRANSITIONS_TAG,
    FLAPPING_WINDOW_TAG,
    RESOLVED_TAG,
    tag_value,
)

HISTORY_LIMIT = 200
_TIME = TypeAdapter(AwareDatetime)


def _fired_at(run: FlowRun) -> datetime | None:
    alert = run.parameters.get("alert")
    if isinstance(alert, dict) and alert.get("fired_at"):
        try:
            return utc(_TIME.validate_python(alert["fired_at"]))
        except ValidationError:
            pass
    return utc(run.created) if run.created else None


def _count(run: FlowRun) -> int:
    value = tag_value(list(run.tags), "occurrences")
    return int(value) if value and value.isdigit() else 1


def _number(tags: list[str], prefix: str) -> float | None:
    value = tag_value(tags, prefix)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


async def occurrences_of(
    fingerprint: str, fired_at: datetime, run_id: str | None = None
) -> Occurrences:
    """Runs tagged with the fingerprint (the current one included) and their recurrences;
    whether the gateway started run ``run_id`` as flapping, and how."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[f"fingerprint:{fingerprint}"])
            ),
            limit=HISTORY_LIMIT,
        )
    times = [t for t in (_fired_at(run) for run in runs) if t is not None] + [utc(fired_at)]
    count = max(1, sum(_count(run) for run in runs))
    current = next((run for run in runs if str(run.id) == run_id), None)
    tags = list(current.tags) if current is not None else []
    transitions = _number(tags, FLAPPING_TRANSITIONS_TAG)
    return Occurrences(
        count=count,
        first_seen=min(times),
        last_seen=max(times),
        flapping_transitions=int(transitions) if transitions is not None else None,
        flapping_window_s=_number(tags, FLAPPING_WINDOW_TAG),
    )


async def alert_resolved(run_id: str) -> bool:
    """Whether the gateway marked run ``run_id``'s alert resolved since the run started."""
    async with get_client() as client:
        run = await client.read_flow_run(UUID(run_id))
    return RESOLVED_TAG in run.tags
