"""Prefect global concurrency limits the project creates on demand."""

from __future__ import annotations

import contextlib

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound


def action_limit_name(service: str) -> str:
    """One runbook action per service at a time."""
    return f"remediate-action-{service}"


async def ensure_limit(name: str, limit: int = 1) -> None:
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=limit)
                )
