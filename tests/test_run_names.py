"""Run names: check, service and UTC firing time, from untrusted alert text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from remediate.alerts import Alert, Severity
from remediate.runs.links import flow_run_link
from remediate.runs.names import run_name


def alert(check_id: str, service: str | None, fired_at: datetime) -> Alert:
    return Alert(
        id="a-1",
        source="test",
        check_id=check_id,
        severity=Severity.CRITICAL,
        summary="s",
        fired_at=fired_at,
        service=service,
    )


def test_the_name_says_check_service_and_utc_time() -> None:
    fired = datetime(2026, 1, 1, 12, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert run_name(alert("S1-probes", "shop-api", fired)) == (
        "S1-probes · shop-api · 2026-01-01 10:00:05 UTC"
    )
    assert run_name(alert("S1", None, datetime(2026, 1, 1, tzinfo=UTC))).startswith(
        "S1 · no service · "
    )


def test_alert_text_cannot_break_or_flood_the_name() -> None:
    # built without validation: the name must hold even if a format let such text through
    hostile = Alert.model_construct(
        check_id="x\u202e\n\x1b[31m" + "y" * 500, service="svc\r\n", fired_at=datetime.now(UTC)
    )
    name = run_name(hostile)
    assert all(ch.isprintable() for ch in name)
    assert len(name.split(" · ")[0]) <= 60 and name.split(" · ")[1] == "svc"


def test_links_open_the_current_ui_whether_or_not_the_base_names_it() -> None:
    expected = "http://ui:4200/v2/runs/flow-run/r1"
    assert flow_run_link("http://ui:4200", "r1") == expected
    assert flow_run_link("http://ui:4200/", "r1") == expected
    assert flow_run_link("http://ui:4200/v2", "r1") == expected
