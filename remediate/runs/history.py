"""Questions asked of the run history by tags."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterStartTime,
    FlowRunFilterTags,
)
from prefect.exceptions import ObjectNotFound


async def another_run_tagged(tags: list[str], this_run: str | None) -> str | None:
    """``name (id)`` of a run other than ``this_run`` carrying every tag in ``tags``."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=tags)), limit=5
        )
    return next((f"{r.name} ({r.id})" for r in runs if str(r.id) != this_run), None)


async def recent_run_tagged(tags: list[str], this_run: str | None, since: datetime) -> str | None:
    """``name (id)`` of a run other than ``this_run``, started after ``since``, carrying
    every tag in ``tags``."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=tags), start_time=FlowRunFilterStartTime(after_=since)
            ),
            limit=5,
        )
    return next((f"{r.name} ({r.id})" for r in runs if str(r.id) != this_run), None)


async def how_run_ended(run_id: str) -> str | None:
    """``state: message`` of a run that ended, or None while it still waits or runs."""
    try:
        async with get_client() as client:
            run = await client.read_flow_run(UUID(run_id))
    except (ValueError, ObjectNotFound):
        return "the run is gone"
    state = run.state
    if state is None or not state.is_final():
        return None
    return f"{state.name}: {state.message or 'no message'}"[:300]
