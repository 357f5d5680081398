"""Serve the deployments declared in ``prefect.yaml`` with Prefect's runner (``serve()``).

Not part of ``make up``, which runs every deployment on a worker of the ``remediate`` pool
(docs/workers.md). This stays as the documented alternative without a pool or worker, and
the tests use it to serve a deployment quickly. Its runs always start cold.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.events import DeploymentTriggerTypes
from prefect.flows import Flow, load_flow_from_entrypoint
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

ROOT = Path(__file__).resolve().parent.parent.parent
TRIGGERS: TypeAdapter[DeploymentTriggerTypes] = TypeAdapter(DeploymentTriggerTypes)


class ScheduleSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cron: str | None = None
    interval: float | None = Field(default=None, gt=0)
    timezone: str = "UTC"
    active: bool = True

    def to_schedule(self) -> Schedule:
        if self.cron:
            return Cron(self.cron, timezone=self.timezone, active=self.active)
        if self.interval:
            return Interval(timedelta(seconds=self.interval), active=self.active)
        raise ValueError("a schedule needs cron or interval")


class DeploymentSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    entrypoint: str
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    triggers: list[dict[str, Any]] = Field(
        default_factory=list, description="Deployment triggers; each becomes an automation."
    )
    concurrency_limit: int | None = None
    enforce_parameter_schema: bool = True


def read_deployments(prefect_yaml: Path) -> list[DeploymentSpec]:
    data = yaml.safe_load(prefect_yaml.read_text(encoding="utf-8")) or {}
    return [DeploymentSpec.model_validate(d) for d in data.get("deployments", [])]


def module_entrypoint(entrypoint: str) -> str:
    """``flows/remediate_alert.py:remediate_alert`` -> ``flows.remediate_alert:remediate_alert``.

    Runs import their flow as a module, the way ``prefect.yaml`` names it.
    """
    path, _, function = entrypoint.partition(":")
    module = path.removesuffix(".py").replace("/", ".").lstrip(".")
    return f"{module}:{function}"


def runner_deployments(prefect_yaml: Path, only: list[str] | None = None) -> list[RunnerDeployment]:
    deployments = []
    specs = read_deployments(prefect_yaml)
    unknown = sorted(set(only or []) - {spec.name for spec in specs})
    if unknown:
        raise ValueError(f"{prefect_yaml}: no deployment named {', '.join(unknown)}")
    for spec in specs:
        if only and spec.name not in only:
            continue
        flow: Flow[..., Any] = load_flow_from_entrypoint(module_entrypoint(spec.entrypoint))
        deployment = flow.to_deployment(
            name=spec.name,
            description=spec.description,
            tags=spec.tags,
            parameters=spec.parameters,
            schedules=[s.to_schedule() for s in spec.schedules],
            triggers=[TRIGGERS.validate_python(t) for t in spec.triggers],
            concurrency_limit=spec.concurrency_limit,
            enforce_parameter_schema=spec.enforce_parameter_schema,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        assert isinstance(deployment, RunnerDeployment)
        deployments.append(deployment)
    return deployments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="remediate-runner")
    parser.add_argument("--prefect-yaml", type=Path, default=ROOT / "prefect.yaml")
    parser.add_argument("--limit", type=int, default=8, help="flow runs at once")
    parser.add_argument("--query-seconds", type=float, default=1.0)
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="serve only this deployment (repeatable)"
    )
    args = parser.parse_args(argv)
    serve(
        *runner_deployments(args.prefect_yaml, args.only),
        limit=args.limit,
        query_seconds=args.query_seconds,
        print_starting_message=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
