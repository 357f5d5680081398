"""Capacity forecasts: the trend fit on synthetic series, and the flow on the real sshd host."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from flows import capacity as capacity_flow
from flows.capacity import IssuesNotWritten, capacity_forecast
from remediate.capacity import collect
from remediate.capacity.collect import build_argv, parse_value, sample_prometheus
from remediate.capacity.config import MetricSpec
from remediate.capacity.forecast import forecast, theil_sen
from remediate.capacity.store import open_sample_store
from remediate.catalog import Catalog
from remediate.evidence.config import EvidenceConfig
from remediate.trackers import LocalTracker
from remediate.trackers.models import IssueAction
from tests.support.processes import free_port
from tests.support.sshd import SSHServer

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HORIZON = timedelta(days=7)


def hourly(values: list[float]) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(hours=i), v) for i, v in enumerate(values)]


def test_linear_growth_gives_the_true_time_to_threshold() -> None:
    series = hourly([40 + 0.5 * i for i in range(48)])
    now = series[-1][0]
    result = forecast(series, 90, HORIZON, now)
    assert result.slope_per_hour == pytest.approx(0.5)
    assert result.time_to_threshold_s == pytest.approx((90 - 63.5) / 0.5 * 3600)
    assert result.inside_horizon


def test_flat_series_never_reaches_the_threshold() -> None:
    result = forecast(hourly([55.0] * 48), 90, HORIZON, T0 + timedelta(hours=47))
    assert result.slope_per_hour == 0
    assert result.time_to_threshold_s is None and not result.inside_horizon


def test_an_outlier_spike_raises_no_alarm() -> None:
    values = [55.0] * 48
    values[30] = 99.0
    values[31] = 97.0
    result = forecast(hourly(values), 90, HORIZON, T0 + timedelta(hours=47))
    assert result.fitted_now == pytest.approx(55.0)
    assert not result.inside_horizon


def test_outliers_barely_move_a_real_trend() -> None:
    values = [10 + 0.2 * i for i in range(60)]
    for i in (5, 17, 40):
        values[i] = 95.0
    assert theil_sen(hourly(values)).slope_per_s * 3600 == pytest.approx(0.2, rel=0.05)


def test_growth_beyond_the_horizon_is_not_reported() -> None:
    series = hourly([10 + 0.01 * i for i in range(48)])
    result = forecast(series, 90, HORIZON, series[-1][0])
    assert result.time_to_threshold_s is not None and not result.inside_horizon


def test_already_over_the_threshold_is_due_now() -> None:
    result = forecast(hourly([95.0] * 10), 90, HORIZON, T0 + timedelta(hours=9))
    assert result.time_to_threshold_s == 0 and result.inside_horizon


def test_parsing_of_each_kind() -> None:
    df = "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/sda1 1000 250 750 25% /\n"
    disk = MetricSpec(name="disk", kind="filesystem", path="/var", threshold=90)
    assert parse_value(disk, df) == 25.0
    memory = MetricSpec(name="mem", kind="memory", threshold=90)
    assert parse_value(memory, "MemTotal: 1000 kB\nMemFree: 1 kB\nMemAvailable: 400 kB\n") == 60.0
    size = MetricSpec(name="size", kind="path_size", path="/srv/data", threshold=1e9)
    assert parse_value(size, "12345\t/srv/data\n") == 12345.0
    queue = MetricSpec(name="queue", kind="command", command="queue-depth", threshold=1000)
    with pytest.raises(ValueError, match="metric queue: expected a number, got 'lots'"):
        parse_value(queue, "lots\n")
    evidence = EvidenceConfig(commands={"queue-depth": ["queue-stat", "--depth"]})
    assert build_argv(queue, evidence) == ["queue-stat", "--depth"]
    assert build_argv(disk, evidence) == ["df", "-P", "-B1", "--", "/var"]


def test_catalog_rejects_bad_metrics() -> None:
    with pytest.raises(ValidationError, match="path must be normalised"):
        MetricSpec(name="disk", kind="filesystem", path="/var/../etc", threshold=90)
    with pytest.raises(ValidationError, match="needs path"):
        MetricSpec(name="disk", kind="inodes", threshold=90)
    with pytest.raises(ValidationError, match="at most 100"):
        MetricSpec(name="disk", kind="filesystem", path="/", threshold=120)
    with pytest.raises(ValidationError, match="no hosts to sample on"):
        Catalog.model_validate(
            {
                "services": [
                    {"name": "api", "metrics": [{"name": "m", "kind": "memory", "threshold": 9}]}
                ]
            }
        )


class SteppedClock:
    """Stands in for ``datetime`` in the capacity modules: ``now`` is whatever the test set,
    so every sample of one forecast run carries the same, chosen time."""

    def __init__(self, start: datetime) -> None:
        self.at = start
        clock = self

        class Stepped(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> Stepped:
                return cls.fromtimestamp(clock.at.timestamp(), tz)

        self.datetime = Stepped


@pytest.fixture
def capacity_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> Iterator[Path]:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path


def ssh_catalog(sshd: SSHServer, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    host = {
        "name": "store-1",
        "address": sshd.address,
        "port": sshd.port,
        "user": sshd.user,
        "known_hosts": str(sshd.known_hosts),
        "private_key": str(sshd.client_key),
    }
    return {
        "services": [{"name": "store", "hosts": [host], "metrics": metrics}],
        "tracker": {"kind": "local"},
    }


THRESHOLD = 2_000_000


async def test_growing_file_on_the_ssh_host_forecast_and_issue(
    capacity_env: Path, sshd: SSHServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    growing = sshd.write_file("capacity-growing.dat", "")
    flat = sshd.write_file("capacity-flat.dat", "y" * 50_000)
    metrics = [
        {
            "name": "growing",
            "kind": "path_size",
            "path": str(growing),
            "threshold": THRESHOLD,
            "horizon_hours": 1,
            "min_samples": 6,
        },
        {
            "name": "flat",
            "kind": "path_size",
            "path": str(flat),
            "threshold": THRESHOLD,
            "horizon_hours": 1,
            "min_samples": 6,
        },
        {
            "name": "memory",
            "kind": "memory",
            "threshold": 100,
            "min_samples": 6,
            "horizon_hours": 0.001,
        },
    ]
    (capacity_env / "catalog.yaml").write_text(yaml.safe_dump(ssh_catalog(sshd, metrics)))

    # the file grows by exactly CHUNK between samples taken exactly STEP apart (a clock the
    # test sets), so the true rate is known however loaded the machine is
    clock = SteppedClock(datetime.now(UTC))
    monkeypatch.setattr(collect, "datetime", clock.datetime)
    monkeypatch.setattr(capacity_flow, "datetime", clock.datetime)
    step, chunk = timedelta(seconds=60), 60_000
    rate = chunk / step.total_seconds()
    runs = []
    for _ in range(6):
        runs.append(await capacity_forecast())
        with growing.open("ab") as handle:
            handle.write(b"x" * chunk)
        clock.at += step
    size_now = growing.stat().st_size - chunk  # as of the last sample

    first = {r.metric: r for r in runs[0]}
    assert first["growing"].forecast is None  # still collecting
    assert first["memory"].sample.value is not None and 0 < first["memory"].sample.value < 100
    last = {r.metric: r for r in runs[-1]}
    assert all(r.sample.error is None for r in runs[-1])

    grown = last["growing"].forecast
    assert grown is not None and grown.inside_horizon
    assert grown.slope_per_hour / 3600 == pytest.approx(rate, rel=1e-9)
    truth = (THRESHOLD - size_now) / rate
    assert grown.time_to_threshold_s == pytest.approx(truth, rel=1e-9)
    assert last["growing"].issue is not None
    assert last["growing"].issue.action is IssueAction.OPENED
    assert last["growing"].action is None  # the catalog names no runbook action

    still = last["flat"].forecast
    assert still is not None and not still.inside_horizon and last["flat"].issue is None

    again = {r.metric: r for r in await capacity_forecast()}
    assert again["growing"].issue is not None
    assert again["growing"].issue.number == last["growing"].issue.number

    issues = LocalTracker(capacity_env / "data" / "issues").issues()
    assert [i.title for i in issues] == ["[capacity] store: growing reaches its threshold"]
    issue = issues[0]
    assert issue.title == "[capacity] store: growing reaches its threshold"
    assert "capacity" in issue.labels and "Threshold reached in about" in issue.body
    assert issue.comments == []  # the same day's forecast writes nothing twice
    charts = list((capacity_env / "data" / "charts").glob("capacity-*.png"))
    assert len(charts) == 1 and charts[0].read_bytes().startswith(b"\x89PNG")


async def test_a_failing_metric_command_is_stored_and_logged_redacted(
    capacity_env: Path, sshd: SSHServer, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = ssh_catalog(
        sshd, [{"name": "queue", "kind": "command", "command": "leaky", "threshold": 10}]
    )
    catalog["evidence"] = {
        "commands": {"leaky": ["sh", "-c", "echo token=SIMSECRET42 >&2; exit 3"]},
        "redact": [{"name": "sim-secret", "pattern": "SIMSECRET[0-9]+"}],
    }
    (capacity_env / "catalog.yaml").write_text(yaml.safe_dump(catalog))

    [result] = await capacity_forecast()

    error = result.sample.error or ""
    assert "exit 3" in error and "[REDACTED:sim-secret]" in error
    assert "SIMSECRET42" not in error and "SIMSECRET42" not in caplog.text
    assert "[REDACTED:sim-secret]" in caplog.text


def prom(url: str, query: str) -> MetricSpec:
    return MetricSpec.model_validate(
        {"name": "prom", "kind": "prometheus", "url": url, "query": query, "threshold": 10}
    )


async def test_prometheus_instant_queries_on_a_real_server(prometheus: str) -> None:
    up = await sample_prometheus(prom(prometheus, 'up{job="self"}'))
    assert up.error is None and up.value == 1.0 and up.host == "prometheus"
    scalar = await sample_prometheus(prom(prometheus, "scalar(up) * 3"))
    assert scalar.value == 3.0
    many = await sample_prometheus(prom(prometheus, "prometheus_http_requests_total"))
    assert many.value is None and many.error is not None
    assert "series, expected exactly 1" in many.error
    broken = await sample_prometheus(prom(prometheus, "up{"))
    assert broken.value is None and "query failed" in (broken.error or "")
    refused = await sample_prometheus(prom(f"http://127.0.0.1:{free_port()}", "up"))
    assert refused.value is None and "ConnectError" in (refused.error or "")


async def test_flow_samples_prometheus_metrics_without_hosts(
    capacity_env: Path, prometheus: str
) -> None:
    metric = {
        "name": "targets-up",
        "kind": "prometheus",
        "url": prometheus,
        "query": "count(up)",
        "threshold": 10,
    }
    catalog = {"services": [{"name": "monitoring", "metrics": [metric]}]}
    (capacity_env / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    [result] = await capacity_forecast()
    assert result.host == "prometheus" and result.sample.value == 1.0
    assert result.forecast is None  # fewer samples than min_samples
    with pytest.raises(ValidationError, match="kind prometheus needs url and query"):
        MetricSpec.model_validate({"name": "p", "kind": "prometheus", "threshold": 1})


async def test_an_issue_that_cannot_be_written_fails_the_run_after_sampling(
    capacity_env: Path, sshd: SSHServer
) -> None:
    metric = {"name": "memory", "kind": "memory", "threshold": 1, "min_samples": 3}
    catalog = ssh_catalog(sshd, [metric]) | {"tracker": {"kind": "github"}}
    (capacity_env / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    for _ in range(2):
        assert (await capacity_forecast())[0].forecast is None
    with pytest.raises(IssuesNotWritten, match=r"store memory: issue not written: tracker\.kind"):
        await capacity_forecast()
    since = datetime.now(UTC) - timedelta(hours=1)
    async with open_sample_store(None, capacity_env / "data") as store:
        assert len(await store.series("store", "memory", "store-1", since)) == 3
