"""Scheduled flows are declared in prefect.yaml and the runner deploys them on schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

from remediate.devstack.runner import read_deployments, runner_deployments

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"

EXPECTED_CRON = {"remediation-report": "0 6 * * *", "alert-patterns": "0 * * * *"}
EXPECTED_INTERVAL = {
    "record-approval-timeouts": timedelta(minutes=30),
    "capacity-forecast": timedelta(minutes=15),
}


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
