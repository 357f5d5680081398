from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from remediate.alerts import Alert, AlertStatus, NotAnAlert, Severity

ROOT = Path(__file__).resolve().parent.parent


def check_result(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "check_id": "S1-probes",
        "timestamp": "2026-11-27T14:11:09.106227",
        "status": "fail",
        "latency_ms": 4.89,
        "message": "Unexpected status: HTTP 500",
        "details": None,
    }
    return base | overrides


def test_check_result_becomes_alert_with_utc_time() -> None:
    alert = Alert.from_sentinel(check_result())
    assert alert.check_id == "S1-probes"
    assert alert.severity is Severity.CRITICAL
    assert alert.status is AlertStatus.FIRING
    assert alert.fired_at == datetime(2026, 11, 27, 14, 11, 9, 106227, tzinfo=UTC)
    assert alert.fired_at.tzinfo is UTC
    assert alert.summary == "Unexpected status: HTTP 500"
    assert alert.id == "S1-probes-1795788669"
    assert alert.source == "veris-sentinel"
    assert alert.details == {"latency_ms": 4.89}


def test_warn_maps_to_warning_and_aware_timestamps_convert_to_utc() -> None:
    alert = Alert.from_sentinel(check_result(status="warn", timestamp="2026-11-27T16:11:09+02:00"))
    assert alert.severity is Severity.WARNING
    assert alert.fired_at == datetime(2026, 11, 27, 14, 11, 9, tzinfo=UTC)


def test_dispatch_envelope_keeps_sender_identity() -> None:
    payload = json.loads((ROOT / "examples/sentinel-dispatch.json").read_text())
    alert = Alert.from_sentinel(payload)
    assert alert.id == "S1-probes-1795788669"
    assert alert.severity is Severity.CRITICAL
    assert alert.labels == {"environment": "development"}
    assert alert.fingerprint == Alert.from_sentinel(check_result()).fingerprint


def test_pass_is_not_an_alert() -> None:
    with pytest.raises(NotAnAlert, match="passed"):
        Alert.from_sentinel(check_result(status="pass"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "broken"}, "status"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"check_id": ""}, "check_id"),
        ({"details": [1, 2]}, "details"),
    ],
)
def test_malformed_check_result_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Alert.from_sentinel(check_result(**change))
    assert field in {str(e["loc"][0]) for e in caught.value.errors()}


def test_fingerprint_is_stable_per_problem_not_per_occurrence() -> None:
    first = Alert.from_sentinel(check_result())
    later = Alert.from_sentinel(check_result(timestamp="2026-11-27T15:00:00", message="other"))
    other_check = Alert.from_sentinel(check_result(check_id="S2-golden-fact-recall"))
    assert first.fingerprint == later.fingerprint
    assert first.occurrence_key != later.occurrence_key
    assert first.fingerprint != other_check.fingerprint
    assert first.with_service("api").fingerprint != first.fingerprint


def test_given_fingerprint_is_kept_and_round_trip_is_exact() -> None:
    alert = Alert.from_sentinel(check_result()).model_copy(update={"fingerprint": "am:abc123"})
    again = Alert.model_validate(alert.model_dump(mode="json"))
    assert again == alert
    assert again.with_service("api").fingerprint == "am:abc123"


def test_naive_fired_at_is_refused_by_the_model_itself() -> None:
    data = Alert.from_sentinel(check_result()).model_dump(mode="json")
    data["fired_at"] = "2026-11-27T14:11:09"
    with pytest.raises(ValidationError, match="fired_at"):
        Alert.model_validate(data)
