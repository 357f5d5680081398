"""Breakers: budgets kept by Prefect global concurrency limits with slot decay (Prefect's
rate limits). A limit of N slots decaying at N per period is a bucket of N that refills
at N per period: N may go at once, then one every period/N. Taking a slot never waits
for one to free up: a budget that is spent refuses at once."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency.asyncio import rate_limit
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

from remediate.runs.tags import Control

HOUR_S = 3600.0
DAY_S = 86400.0
ACQUIRE_TIMEOUT_S = 20.0
"""How long one attempt to take a slot may take; a spent budget answers 423 with a
Retry-After of period/N, far longer than this, so it is refused within one call."""


@dataclass(frozen=True)
class Budget:
    name: str
    """The Prefect global concurrency limit holding it."""
    limit: int
    period_s: float
    control: Control

    @property
    def per(self) -> str:
        return "hour" if self.period_s == HOUR_S else "day"

    def describe(self) -> str:
        return f"at most {self.limit} per {self.per}"

    def notice(self) -> Budget:
        """One slot per period: the breaker is announced at most once per period."""
        return Budget(f"{self.name}-notice", 1, self.period_s, self.control)


def actions_budget(service: str, per_hour: int) -> Budget:
    return Budget(
        f"remediate-actions-per-hour-{service}", per_hour, HOUR_S, Control.ACTIONS_PER_HOUR
    )


def fix_budget(per_day: int) -> Budget:
    return Budget("remediate-fix-proposals-per-day", per_day, DAY_S, Control.FIX_PROPOSALS_PER_DAY)


async def ensure_budget(budget: Budget) -> None:
    """Create the limit, or bring its size and decay to what the catalog says now."""
    decay = budget.limit / budget.period_s
    async with get_client() as client:
        try:
            current = await client.read_global_concurrency_limit_by_name(budget.name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(
                        name=budget.name, limit=budget.limit, slot_decay_per_second=decay
                    )
                )
            return
        if current.limit != budget.limit or abs(current.slot_decay_per_second - decay) > 1e-12:
            await client.update_global_concurrency_limit(
                budget.name,
                GlobalConcurrencyLimitUpdate(limit=budget.limit, slot_decay_per_second=decay),
            )


async def take(budget: Budget) -> bool:
    """Take one slot of ``budget``; False when it is spent (the breaker trips)."""
    await ensure_budget(budget)
    try:
        await rate_limit(budget.name, occupy=1, timeout_seconds=ACQUIRE_TIMEOUT_S, strict=True)
    except TimeoutError:
        return False
    return True
