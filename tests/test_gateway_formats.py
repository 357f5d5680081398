from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate.alerts import AlertStatus, NotAnAlert, Severity
from remediate.gateway.formats import (
    MAX_DEPTH,
    PayloadError,
    alertmanager_alerts,
    generic_alert,
    grafana_alerts,
    parse_json,
    sentinel_alert,
)
from tests.support.gateway import payload


def test_sentinel_dispatch_envelope_as_sentinel_sends_it() -> None:
    alert = sentinel_alert(payload("sentinel_dispatch.json"))
    assert alert.id == "S1-probes-1795788669"
    assert alert.check_id == "S1-probes"
    assert alert.source == "veris-sentinel"
    assert alert.severity is Severity.CRITICAL
    assert alert.summary == "Unexpected status: HTTP 500"
    assert alert.labels == {"environment": "development"}
    assert alert.fired_at == datetime(2026, 11, 27, 14, 11, 9, 106227, tzinfo=UTC)
    assert alert.details == {"latency_ms": 4.89}


def test_sentinel_check_result_warn() -> None:
    alert = sentinel_alert(payload("sentinel_check_s6.json"))
    assert alert.check_id == "S6-backup-restore"
    assert alert.severity is Severity.WARNING
    assert alert.details["failed_test_names"] == ["neo4j"]
    assert alert.id == f"S6-backup-restore-{int(alert.fired_at.timestamp())}"


def test_sentinel_passing_check_is_not_an_alert() -> None:
    body = payload("sentinel_check_s6.json") | {"status": "pass"}
    with pytest.raises(NotAnAlert):
        sentinel_alert(body)


def test_sentinel_errors_name_the_field() -> None:
    with pytest.raises(PayloadError) as caught:
        sentinel_alert({"check_id": "S1", "timestamp": "yesterday", "status": "boom"})
    fields = {field for field, _ in caught.value.problems}
    assert fields == {"timestamp", "status"}


def test_timestamps_out_of_range_in_utc_are_refused_not_crashing() -> None:
    early = "0001-01-01T00:00:03+00:02"
    with pytest.raises(PayloadError):
        sentinel_alert({"check_id": "S1", "timestamp": early, "status": "fail"})
    with pytest.raises(PayloadError) as caught:
        generic_alert({"id": "a", "check_id": "c", "fired_at": early})
    assert "fired_at" in {field for field, _ in caught.value.problems}


def test_sentinel_long_message_is_clipped_not_refused() -> None:
    body = payload("sentinel_check_s6.json") | {"message": "é" * 60_000}
    alert = sentinel_alert(body)
    assert len(alert.summary) == 10_000
    assert alert.summary.endswith("…")


def test_alertmanager_group_becomes_one_alert_per_alert() -> None:
    alerts = alertmanager_alerts(payload("alertmanager_firing.json"))
    assert [a.fingerprint for a in alerts] == ["4a8f3c1b2d9e7f60", "9b1e2f3a4c5d6e70"]
    first = alerts[0]
    assert first.source == "alertmanager"
    assert first.check_id == "InstanceDown"
    assert first.severity is Severity.CRITICAL
    assert first.status is AlertStatus.FIRING
    assert first.summary == "Instance api-1:9100 down"
    assert first.labels["instance"] == "api-1:9100"
    assert first.fired_at == datetime(2026, 11, 27, 14, 5, 30, 123000, tzinfo=UTC)
    assert first.id == f"4a8f3c1b2d9e7f60-{int(first.fired_at.timestamp())}"
    assert first.details["generator_url"].startswith("http://prometheus:9090/graph")
    assert first.details["group"]["receiver"] == "remediate"
    assert "ends_at" not in first.details


def test_alertmanager_resolved_keeps_identity_and_status() -> None:
    body = payload("alertmanager_firing.json")
    body["status"] = "resolved"
    for item in body["alerts"]:
        item["status"] = "resolved"
        item["endsAt"] = "2026-11-27T14:20:00Z"
    firing = alertmanager_alerts(payload("alertmanager_firing.json"))
    resolved = alertmanager_alerts(body)
    assert [a.status for a in resolved] == [AlertStatus.RESOLVED] * 2
    assert [a.occurrence_key for a in resolved] == [a.occurrence_key for a in firing]
    assert resolved[0].details["ends_at"].startswith("2026-11-27T14:20:00")


def test_alertmanager_errors_name_the_field() -> None:
    body = payload("alertmanager_firing.json")
    body["alerts"][1]["startsAt"] = "not a time"
    with pytest.raises(PayloadError) as caught:
        alertmanager_alerts(body)
    assert caught.value.problems[0][0] == "alerts.1.startsAt"
    with pytest.raises(PayloadError) as caught:
        alertmanager_alerts({"status": "firing", "alerts": []})
    assert caught.value.problems[0][0] == "alerts"


def test_alertmanager_without_fingerprint_derives_a_stable_one() -> None:
    body = payload("alertmanager_firing.json")
    del body["alerts"][0]["fingerprint"]
    one = alertmanager_alerts(body)[0]
    body["alerts"][0]["labels"] = dict(reversed(list(body["alerts"][0]["labels"].items())))
    assert alertmanager_alerts(body)[0].fingerprint == one.fingerprint


def test_grafana_payload_from_its_documentation() -> None:
    alerts = grafana_alerts(payload("grafana.json"))
    assert [a.check_id for a in alerts] == ["High memory usage", "High CPU usage"]
    first = alerts[0]
    assert first.source == "grafana"
    assert first.fingerprint == "c6eadffa33fcdf37"
    assert first.severity is Severity.WARNING
    assert first.summary == "This alert was triggered for zone us-1"
    assert first.details["values"] == {"B": 44.23943737541908, "C": 1}
    assert first.details["group"]["orgId"] == 1
    assert first.details["group"]["state"] == "alerting"
    assert first.fired_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)


def test_generic_shape() -> None:
    now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    alert = generic_alert(
        {"id": "evt-1", "check_id": "disk-full", "severity": "error", "summary": "disk 99%"},
        now,
    )
    assert (alert.source, alert.severity, alert.fired_at) == ("generic", Severity.ERROR, now)
    with pytest.raises(PayloadError) as caught:
        generic_alert({"id": "x", "check_id": "y", "severity": "apocalyptic", "extra": 1}, now)
    assert {f for f, _ in caught.value.problems} == {"severity", "extra"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested deeper"),
        (b"[" * 100_000, "nested deeper"),
    ],
)
def test_parse_json_refuses_hostile_bodies(raw: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_json(raw)
    assert message in str(caught.value)


def test_depth_counter_ignores_brackets_in_strings() -> None:
    text = json.dumps({"message": "[" * 1000 + '\\"{' * 100})
    assert parse_json(text.encode())["message"].startswith("[[[")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

am_alert = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved", "other"]),
        "labels": st.dictionaries(st.text(max_size=20), st.text(max_size=50), max_size=5),
        "annotations": st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=3),
        "startsAt": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | st.text(),
        "fingerprint": st.text(max_size=20),
    }
)


def _only_payload_errors(call: Any, body: Any) -> None:
    with contextlib.suppress(PayloadError, NotAnAlert):
        call(body)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_every_parser_survives_arbitrary_json(value: Any) -> None:
    for parser in (sentinel_alert, alertmanager_alerts, grafana_alerts, generic_alert):
        _only_payload_errors(parser, value)


@settings(max_examples=150, deadline=None)
@given(st.lists(am_alert, min_size=1, max_size=3), st.sampled_from(["firing", "resolved"]))
def test_alertmanager_parser_on_near_valid_groups(alerts: list[Any], status: str) -> None:
    _only_payload_errors(alertmanager_alerts, {"status": status, "alerts": alerts})


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "check_id": st.text(max_size=30),
            "timestamp": st.datetimes().map(datetime.isoformat) | st.text(max_size=30),
            "status": st.sampled_from(["pass", "warn", "fail", "unknown"]),
            "message": st.text(),
            "details": json_values,
        }
    )
)
def test_sentinel_parser_on_near_valid_checks(body: dict[str, Any]) -> None:
    _only_payload_errors(sentinel_alert, body)
    _only_payload_errors(sentinel_alert, {"event_type": "sentinel-alert", "client_payload": body})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_json_on_arbitrary_bytes(raw: bytes) -> None:
    with contextlib.suppress(PayloadError):
        parse_json(raw)
