"""Scheduled flows are declared in prefect.yaml and the runner deploys them on schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID

from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.events.actions import RunDeployment
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from remediate.devstack.runner import read_deployments, runner_deployments

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"

EXPECTED_CRON = {
    "remediation-report": "0 6 * * *",
    "alert-patterns": "0 * * * *",
    "capacity-forecast": "15 * * * *",
    "record-approval-timeouts": "30 5 * * *",  # the backstop: events start it when needed
    "recover-crashed-runs": "45 * * * *",  # the backstop: events start it when needed
}
EXPECTED_INTERVAL: dict[str, timedelta] = {}


def test_schedules_declared_in_prefect_yaml() -> None:
    specs = {s.name: s for s in read_deployments(PREFECT_YAML)}
    for name, cron in EXPECTED_CRON.items():
        assert [s.cron for s in specs[name].schedules] == [cron]
    for name, interval in EXPECTED_INTERVAL.items():
        assert [s.interval for s in specs[name].schedules] == [interval.total_seconds()]
    assert specs["remediate-alert"].schedules == []


def test_runner_turns_them_into_scheduled_deployments() -> None:
    deployments = {d.name: d for d in runner_deployments(PREFECT_YAML)}
    assert deployments["remediation-report"].flow_name == "remediation-report"
    for name, cron in EXPECTED_CRON.items():
        [schedule] = deployments[name].schedules
        assert isinstance(schedule.schedule, CronSchedule)
        assert schedule.schedule.cron == cron and schedule.schedule.timezone == "UTC"
        assert schedule.active
    for name, interval in EXPECTED_INTERVAL.items():
        [schedule] = deployments[name].schedules
        assert isinstance(schedule.schedule, IntervalSchedule)
        assert schedule.schedule.interval == interval
    assert deployments["remediate-alert"].schedules == []


def test_no_deployment_adds_a_run_more_often_than_hourly() -> None:
    """The run list stays readable: at most one scheduled run per deployment and hour."""
    for deployment in runner_deployments(PREFECT_YAML):
        for schedule in deployment.schedules:
            if isinstance(schedule.schedule, IntervalSchedule):
                assert schedule.schedule.interval >= timedelta(hours=1), deployment.name
            else:
                assert isinstance(schedule.schedule, CronSchedule), deployment.name
                minute = schedule.schedule.cron.split()[0]
                assert minute.isdigit(), f"{deployment.name} runs more than once an hour"


def test_expired_approvals_are_recorded_by_an_event_trigger() -> None:
    """record-approval-timeouts runs when a waiting run fails, for that run alone."""
    [deployment] = runner_deployments(PREFECT_YAML, ["record-approval-timeouts"])
    [trigger] = deployment.triggers
    trigger.set_deployment_id(UUID(int=1))
    automation = trigger.as_automation()
    assert automation.enabled
    event_trigger = automation.trigger
    assert isinstance(event_trigger, EventTrigger)
    assert event_trigger.expect == {"prefect.flow-run.Failed"}
    assert event_trigger.posture == Posture.Reactive and event_trigger.threshold == 1
    assert event_trigger.for_each == {"prefect.resource.id"}
    # the state message Prefect's pause_expirations service sets; an event's related tags
    # are the run's tags at creation, so the awaiting-approval tag cannot be matched there
    assert event_trigger.match.model_dump() == {
        "prefect.state-message": "The flow was paused and never resumed."
    }
    related = event_trigger.match_related
    assert isinstance(related, ResourceSpecification)
    assert related.model_dump() == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "remediate-alert",
    }
    [action] = automation.actions
    assert isinstance(action, RunDeployment) and action.deployment_id == UUID(int=1)
    assert action.parameters == {"flow_run_id": "{{ event.resource.id }}"}


def test_crashed_runs_are_recovered_by_an_event_trigger() -> None:
    """recover-crashed-runs runs when a remediation run crashes, for that run alone."""
    [deployment] = runner_deployments(PREFECT_YAML, ["recover-crashed-runs"])
    [trigger] = deployment.triggers
    trigger.set_deployment_id(UUID(int=1))
    automation = trigger.as_automation()
    assert automation.enabled
    event_trigger = automation.trigger
    assert isinstance(event_trigger, EventTrigger)
    assert event_trigger.expect == {"prefect.flow-run.Crashed"}
    assert event_trigger.posture == Posture.Reactive and event_trigger.threshold == 1
    assert event_trigger.for_each == {"prefect.resource.id"}
    related = event_trigger.match_related
    assert isinstance(related, ResourceSpecification)
    assert related.model_dump() == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "remediate-alert",
    }
    [action] = automation.actions
    assert isinstance(action, RunDeployment)
    assert action.parameters == {"flow_run_id": "{{ event.resource.id }}"}
