"""Alert patterns found in history made by running the real flow, and on synthetic records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from flows.patterns import IssuesNotWritten, alert_patterns
from flows.remediate_alert import remediate_alert
from remediate.alerts import Alert
from remediate.patterns.detect import Kind, Thresholds, find_patterns, verdict_changes
from remediate.reporting.history import RunRecord
from remediate.runs.api import PrefectAPI
from remediate.trackers import LocalTracker
from tests.support.http_services import Service, serve


@pytest.fixture
def stack_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> Iterator[Path]:
    monkeypatch.setenv("REMEDIATE_CATALOG", str(tmp_path / "catalog.yaml"))
    monkeypatch.setenv("REMEDIATE_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path


def alert(check: str, minute: int) -> Alert:
    return Alert.from_sentinel(
        {
            "check_id": check,
            "timestamp": f"2026-11-26T09:{minute:02d}:00",
            "status": "fail",
            "message": "Unexpected status: HTTP 500",
        }
    )


def service(name: str, check: str, target: Service) -> dict[str, object]:
    return {"name": name, "checks": [check], "health": [{"url": target.health_url}]}


async def test_recurring_noisy_and_flapping_alerts_get_one_issue_each(
    stack_env: Path, prefect_server: str, http_service: Service, another_http_service: Service
) -> None:
    with serve() as flapper:
        http_service.set(status=500)
        catalog = {
            "services": [
                service("pat-api", "PAT-recurring", http_service),
                service("pat-web", "PAT-noise", another_http_service),
                service("pat-flap", "PAT-flap", flapper),
            ],
            "verification": {"attempts": 2, "interval_s": 0.05},
            "policy": {
                "critical": {"diagnose": False, "collect_logs": False, "propose_fix": False}
            },
        }
        (stack_env / "catalog.yaml").write_text(yaml.safe_dump(catalog))
        recurring = [await remediate_alert(alert("PAT-recurring", m)) for m in range(4)]
        noise = [await remediate_alert(alert("PAT-noise", m)) for m in range(3)]
        flapping = []
        for minute, status in enumerate([500, 200, 500, 200]):
            flapper.set(status=status)
            flapping.append(await remediate_alert(alert("PAT-flap", minute)))
    first = recurring[0].flow_run_id
    assert first is not None
    async with PrefectAPI(prefect_server) as api:
        await api.set_occurrence_tags(first, 2, resolved=False)
    mine = {
        recurring[0].fingerprint: "PAT-recurring",
        noise[0].fingerprint: "PAT-noise",
        flapping[0].fingerprint: "PAT-flap",
    }

    found = [r for r in await alert_patterns(window_hours=1) if r.fingerprint in mine]
    assert sorted((mine[r.fingerprint], r.kind) for r in found) == [
        ("PAT-flap", Kind.FLAPPING),
        ("PAT-noise", Kind.NOISE),
        ("PAT-recurring", Kind.RECURRING),
    ]
    details = {r.kind: r.detail for r in found}
    assert details[Kind.RECURRING] == "5 occurrences in 4 runs"
    assert details[Kind.NOISE] == "all 3 runs self-resolved"
    assert details[Kind.FLAPPING] == "verdict changed 3 times in 4 runs"

    again = [r for r in await alert_patterns(window_hours=1) if r.fingerprint in mine]
    assert sorted(r.issue.number for r in again) == sorted(r.issue.number for r in found)

    issues = {
        i.number: i
        for i in LocalTracker(stack_env / "data" / "issues").issues()
        if "recurring-problem" in i.labels
    }
    by_kind = {r.kind: issues[r.issue.number] for r in found}
    assert all(i.comments == [] for i in by_kind.values())
    noisy = by_kind[Kind.NOISE]
    assert noisy.title == "[recurring] pat-web: PAT-noise always resolves by itself"
    assert "open_issue: false" in noisy.body and "pattern:noise" in noisy.labels
    assert "self-resolved" in noisy.body and "![occurrences per day](file://" in noisy.body
    assert "attempts: 4, interval_s: 10" in by_kind[Kind.FLAPPING].body
    assert "came back 5 times" in by_kind[Kind.RECURRING].body

    (stack_env / "catalog.yaml").write_text(
        yaml.safe_dump(catalog | {"tracker": {"kind": "github"}})
    )
    with pytest.raises(
        IssuesNotWritten, match=r"noise PAT-noise: issue not written: tracker\.kind"
    ):
        await alert_patterns(window_hours=1)


T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def record(n: int, day: int, *, resolved: bool = False, verdict: str = "confirmed") -> RunRecord:
    return RunRecord(
        id=f"run-{day}-{n}",
        created=T0 + timedelta(days=day, minutes=n),
        state_type="COMPLETED",
        tags=["check:disk-full", "fingerprint:fp-1", "service:db"],
        fingerprint="fp-1",
        service="db",
        verdict="recovered" if resolved else verdict,
        self_resolved=resolved,
    )


def test_rising_daily_counts_are_increasing_and_steady_ones_are_not() -> None:
    since, until = T0, T0 + timedelta(days=4, hours=1)
    rising = [record(n, day) for day, count in enumerate([1, 2, 4, 6, 9]) for n in range(count)]
    kinds = {f.kind for f in find_patterns(rising, since, until, Thresholds())}
    assert kinds == {Kind.INCREASING, Kind.RECURRING}
    steady = [record(n, day) for day in range(5) for n in range(2)]
    assert {f.kind for f in find_patterns(steady, since, until, Thresholds())} == {Kind.RECURRING}
    few = [record(0, 0), record(0, 3)]
    assert find_patterns(few, since, until, Thresholds()) == []


def test_flapping_counts_only_verdict_changes() -> None:
    runs = [record(i, 0, resolved=i % 2 == 1) for i in range(5)]
    assert verdict_changes(runs) == 4
    assert verdict_changes([record(i, 0, verdict="unverifiable") for i in range(5)]) == 0
    kinds = {f.kind for f in find_patterns(runs, T0, T0 + timedelta(hours=1), Thresholds())}
    assert kinds == {Kind.FLAPPING, Kind.RECURRING}
