"""The automation pause and the breakers as tasks, each decided once per run and step: a
resumed run, which runs again from the top, sees the decisions its first attempt took at
the steps it had already passed."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.runtime import flow_run

from remediate.approval.config import NotifyChannel
from remediate.approval.notify import control_payload, notify
from remediate.controls.audit import AuditEntry, write
from remediate.controls.breakers import Budget, left, spend, take
from remediate.controls.pause import current_pause
from remediate.runs.cache import PER_FLOW_RUN_STEP

BREAKER_EVENT = "remediate.breaker-tripped"


@task(name="automation-gate", cache_policy=PER_FLOW_RUN_STEP)
async def automation_gate(step: str) -> str | None:
    """Why automation may not go on at ``step`` (the pause in force), or None."""
    pause = await current_pause()
    return pause.describe() if pause is not None else None


@task(name="take-budget", cache_policy=PER_FLOW_RUN_STEP)
async def take_budget(step: str, budget: Budget) -> bool:
    """One slot of ``budget`` for ``step``; False when the breaker trips."""
    return await take(budget)


@task(name="spend-left", cache_policy=PER_FLOW_RUN_STEP)
async def spend_left(step: str, budget: Budget) -> bool:
    """Whether the spend budget has anything left for a model session at ``step``."""
    return await left(budget) > 0


@task(name="charge-spend", cache_policy=PER_FLOW_RUN_STEP)
async def charge_spend(step: str, budget: Budget, cost_usd: float) -> int:
    """Charge the cost a model session reported to the spend budget (once per run and
    step, so a resumed run does not charge again); the slots occupied."""
    slots = budget.slots_for(cost_usd)
    taken = await spend(budget, slots) if slots else 0
    get_run_logger().info(
        "model spend USD %.4f charged to %s (%d of %d slots)", cost_usd, budget.name, taken, slots
    )
    return taken


@task(name="record-audit", cache_policy=PER_FLOW_RUN_STEP)
async def record_audit(step: str, entry: AuditEntry) -> None:
    """``entry`` on the current run's audit trail, once per run and ``step``."""
    await write(entry, flow_run.get_id())


@task(name="announce-breaker", cache_policy=PER_FLOW_RUN_STEP)
async def announce_breaker(
    step: str, budget: Budget, text: str, channels: list[NotifyChannel]
) -> bool:
    """Tell the approval channels, at most once per breaker and period (its own rate
    limit); False when it was already told in this period."""
    if not channels or not await take(budget.notice()):
        return False
    payload = control_payload(BREAKER_EVENT, text, breaker=budget.control.value)
    for delivery in await notify(channels, payload, text):
        level = "info" if delivery.ok else "warning"
        getattr(get_run_logger(), level)(
            "breaker notice to %s: %s", delivery.channel, delivery.detail
        )
    return True
