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
from remediate.runs.tags import Flag, Key, number_value, tag, tag_value

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
    value = tag_value(list(run.tags), Key.OCCURRENCES)
    return int(value) if value and value.isdigit() else 1


async def occurrences_of(
    fingerprint: str, fired_at: datetime, run_id: str | None = None
) -> Occurrences:
    """Runs tagged with the fingerprint (the current one included) and their recurrences;
    whether the gateway started run ``run_id`` as flapping, and how."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=[tag(Key.FINGERPRINT, fingerprint)])
            ),
            limit=HISTORY_LIMIT,
        )
    times = [t for t in (_fired_at(run) for run in runs) if t is not None] + [utc(fired_at)]
    count = max(1, sum(_count(run) for run in runs))
    current = next((run for run in runs if str(run.id) == run_id), None)
    tags = list(current.tags) if current is not None else []
    transitions = number_value(tags, Key.FLAPPING_TRANSITIONS)
    return Occurrences(
        count=count,
        first_seen=min(times),
        last_seen=max(times),
        flapping_transitions=int(transitions) if transitions is not None else None,
        flapping_window_s=number_value(tags, Key.FLAPPING_WINDOW),
    )


async def alert_resolved(run_id: str) -> bool:
    """Whether the gateway marked run ``run_id``'s alert resolved since the run started."""
    async with get_client() as client:
        run = await client.read_flow_run(UUID(run_id))
    return Flag.ALERT_RESOLVED in run.tags
