"""Before a fix is proposed or published and before an action runs: the automation pause,
then the step's breaker. What stops a step is tagged on the run (``stopped-by:``) and its
text returned for the issue; a tripped breaker is announced once per period."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import get_run_logger

from remediate.catalog import Catalog
from remediate.controls.audit import AuditEntry, Kind
from remediate.controls.breakers import Budget, spend_budget
from remediate.runs.tags import Control, Key, retag, tag
from tasks.controls import (
    announce_breaker,
    automation_gate,
    charge_spend,
    record_audit,
    spend_left,
    take_budget,
)


async def held_back(
    step: str,
    what: str,
    catalog: Catalog,
    budget: Budget | None,
    spend: Budget | None = None,
    *,
    pause: bool = True,
) -> str | None:
    """Why ``what`` (e.g. "runbook action restart") may not run at ``step``, or None. The
    text is plain: whoever publishes it escapes it. ``budget`` is taken a slot of;
    ``spend`` (the model spend budget) must only have something left; ``pause``: whether
    the automation pause stops this step."""
    logger = get_run_logger()
    paused = await automation_gate(step) if pause else None
    if paused is not None:
        logger.warning("%s not run: automation %s", what, paused)
        await retag([tag(Key.STOPPED_BY, Control.PAUSED)])
        text = (
            f"{what} not run: automation is {paused} "
            "(remediate resume-automation lets later runs act again)."
        )
        await _audit_stop(step, Control.PAUSED, text)
        return text
    tripped = None
    if spend is not None and not await spend_left(step, spend):
        tripped = spend
    elif budget is not None and not await take_budget(step, budget):
        tripped = budget
    if tripped is None:
        return None
    logger.warning("%s refused: breaker %s tripped", what, tripped.control.value)
    await retag([tag(Key.STOPPED_BY, tripped.control)])
    text = (
        f"{what} refused: breaker {tripped.control.value} tripped"
        f" ({tripped.describe()}, Prefect rate limit {tripped.name})."
    )
    await _audit_stop(step, tripped.control, text)
    await announce_breaker(step, tripped, text, catalog.approval.notify)
    return text


async def _audit_stop(step: str, control: Control, text: str) -> None:
    entry = AuditEntry(
        at=datetime.now(UTC), kind=Kind.CONTROL_STOP, subject=step, control=control, reason=text
    )
    await record_audit(f"stop-{step}", entry)


def spend_budget_of(catalog: Catalog) -> Budget | None:
    per_day = catalog.controls.breakers.model_spend_usd_per_day
    return spend_budget(per_day) if per_day is not None else None


async def charged(step: str, budget: Budget | None, cost_usd: float) -> None:
    """Charge a model session's cost to the spend budget, when the catalog sets one."""
    if budget is not None and cost_usd > 0:
        await charge_spend(step, budget, cost_usd)
