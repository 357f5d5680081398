"""Breakers: budgets kept by Prefect global concurrency limits with slot decay (Prefect's
rate limits). A limit of N slots decaying at N per period is a bucket of N that refills
at N per period: N may go at once, then one every period/N. Taking a slot never waits
for one to free up: a budget that is spent refuses at once."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import httpx
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
    unit_usd: float | None = None
    """For a spend budget: the US dollars one slot stands for."""

    @property
    def per(self) -> str:
        return "hour" if self.period_s == HOUR_S else "day"

    def describe(self) -> str:
        if self.unit_usd is not None:
            return f"at most USD {self.limit * self.unit_usd:.4f} of model sessions per {self.per}"
        return f"at most {self.limit} per {self.per}"

    def notice(self) -> Budget:
        """One slot per period: the breaker is announced at most once per period."""
        return Budget(f"{self.name}-notice", 1, self.period_s, self.control)

    def slots_for(self, cost_usd: float) -> int:
        assert self.unit_usd is not None
        return math.ceil(round(cost_usd / self.unit_usd, 6)) if cost_usd > 0 else 0


def actions_budget(service: str, per_hour: int) -> Budget:
    return Budget(
        f"remediate-actions-per-hour-{service}", per_hour, HOUR_S, Control.ACTIONS_PER_HOUR
    )


def fix_budget(per_day: int) -> Budget:
    return Budget("remediate-fix-proposals-per-day", per_day, DAY_S, Control.FIX_PROPOSALS_PER_DAY)


SPEND_UNIT_USD = 0.0001
"""One slot of the spend budget: a hundredth of a cent."""


def spend_budget(usd_per_day: float) -> Budget:
    return Budget(
        "remediate-model-spend-per-day",
        max(1, round(usd_per_day / SPEND_UNIT_USD)),
        DAY_S,
        Control.MODEL_SPEND_PER_DAY,
        SPEND_UNIT_USD,
    )


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


async def left(budget: Budget) -> int:
    """Slots of ``budget`` free now (the server applies the decay when it answers)."""
    await ensure_budget(budget)
    async with get_client() as client:
        current = await client.read_global_concurrency_limit_by_name(budget.name)
    return max(0, current.limit - math.ceil(current.active_slots))


async def spend(budget: Budget, slots: int) -> int:
    """Occupy ``slots`` of ``budget``, as many as are free when fewer are (a model session's
    cost is known only once it ended, so the last one may go over what is left: the budget
    is then spent and the next session is refused). Returns the slots occupied."""
    taken = 0
    for _ in range(3):  # another run may take what was free between reading and occupying
        want = min(slots - taken, await left(budget))
        if want <= 0:
            break
        async with get_client() as client:
            try:
                await client.increment_concurrency_slots([budget.name], want, "rate_limit")
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:
                    raise
                continue
        taken += want
    return taken
