"""Before a fix is proposed or published and before an action runs: the automation pause,
then the step's breaker. What stops a step is tagged on the run (``stopped-by:``) and its
text returned for the issue; a tripped breaker is announced once per period."""

from __future__ import annotations

from prefect import get_run_logger

from remediate.catalog import Catalog
from remediate.controls.breakers import Budget
from remediate.runs.tags import Control, Key, retag, tag
from tasks.controls import announce_breaker, automation_gate, take_budget


async def held_back(step: str, what: str, catalog: Catalog, budget: Budget | None) -> str | None:
    """Why ``what`` (e.g. "runbook action restart") may not run at ``step``, or None. The
    text is plain: whoever publishes it escapes it."""
    logger = get_run_logger()
    paused = await automation_gate(step)
    if paused is not None:
        logger.warning("%s not run: automation %s", what, paused)
        await retag([tag(Key.STOPPED_BY, Control.PAUSED)])
        return (
            f"{what} not run: automation is {paused} "
            "(remediate resume-automation lets later runs act again)."
        )
    if budget is not None and not await take_budget(step, budget):
        logger.warning("%s refused: breaker %s tripped", what, budget.control.value)
        await retag([tag(Key.STOPPED_BY, budget.control)])
        text = (
            f"{what} refused: breaker {budget.control.value} tripped"
            f" ({budget.describe()}, Prefect rate limit {budget.name})."
        )
        await announce_breaker(step, budget, text, catalog.approval.notify)
        return text
    return None
