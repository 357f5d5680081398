"""Cache keys for the steps a resumed run must not repeat."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext


def per_flow_run(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """One cached result per task per flow run: a suspended run re-runs from the top when
    resumed, and each step before the approval gate returns its first result again."""
    return f"{context.task.name}-{context.task_run.flow_run_id}"


PER_FLOW_RUN = CachePolicy.from_cache_key_fn(per_flow_run)
"""A task with this policy persists its result, which later calls in the run return."""


def per_flow_run_step(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """One cached result per task, ``step`` parameter and flow run: a decision taken the
    first time a run reaches a step is the one its resumed attempts see there."""
    return f"{context.task.name}-{parameters['step']}-{context.task_run.flow_run_id}"


PER_FLOW_RUN_STEP = CachePolicy.from_cache_key_fn(per_flow_run_step)


def per_flow_run_and(*names: str) -> CachePolicy:
    """One cached result per task, flow run and value of the parameters ``names``: a step
    done once for each of several things in one run (one artifact per decision, one
    notification per publication attempt)."""

    def key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
        values = [str(parameters[name]) for name in names]
        return "-".join([per_flow_run(context, parameters), *values])

    return CachePolicy.from_cache_key_fn(key)
