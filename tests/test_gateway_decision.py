from __future__ import annotations

from datetime import UTC, datetime

from remediate.alerts import Alert, AlertStatus, Severity
from remediate.gateway.decision import (
    Defer,
    Hold,
    Known,
    Occur,
    Resolve,
    Start,
    decide,
    transitions,
)
from remediate.gateway.outbox import Remediation, Row, Seen, State
from remediate.gateway.policy import Flapping, GatewayPolicy, Threshold

NOW = 10_000.0
FINGERPRINT = "fp-1"


def alert(status: AlertStatus = AlertStatus.FIRING, check_id: str = "S2-x") -> Alert:
    return Alert(
        id="a-1",
        source="sentinel",
        check_id=check_id,
        severity=Severity.CRITICAL,
        status=status,
        summary="down",
        fired_at=datetime.fromtimestamp(NOW, UTC),
        fingerprint=FINGERPRINT,
    )


def row(status: AlertStatus = AlertStatus.FIRING, at: float = NOW, seq: int = 100) -> Row:
    return Row(seq, f"key-{seq}", FINGERPRINT, status.value, "{}", at, 0)


def seen(seq: int, status: AlertStatus, state: State, at: float) -> Seen:
    return Seen(seq, FINGERPRINT, status.value, state, at)


def remediation(
    flapping: bool = False, last_seen: float = NOW - 100, resolved_at: float | None = None
) -> Remediation:
    return Remediation(
        FINGERPRINT, "run-1", NOW - 100, 1, last_seen, resolved_at=resolved_at, flapping=flapping
    )


def known(
    current: Remediation | None = None,
    run_open: bool = False,
    history: list[Seen] | None = None,
    starts: list[float] | None = None,
) -> Known:
    return Known(current, run_open, history or [], starts or [])


def flapping_history() -> list[Seen]:
    """Four firing/resolved changes before ``NOW``; a resolved alert at ``NOW`` makes five."""
    statuses = [AlertStatus.FIRING, AlertStatus.RESOLVED, AlertStatus.FIRING, AlertStatus.RESOLVED]
    history = [
        seen(i, status, State.DELIVERED, NOW - 50 + i) for i, status in enumerate(statuses, 1)
    ]
    return [*history, seen(5, AlertStatus.FIRING, State.OCCURRENCE, NOW - 10)]


PLAIN = GatewayPolicy()
FLAPPING = GatewayPolicy(flapping=Flapping(transitions=4, window_s=300))
THRESHOLD = GatewayPolicy(thresholds=[Threshold(checks=["S2-*"], occurrences=3, window_s=60)])


def test_a_resolution_closes_the_open_remediation() -> None:
    decision = decide(
        row(AlertStatus.RESOLVED),
        alert(AlertStatus.RESOLVED),
        known(remediation(), run_open=True),
        PLAIN,
        10,
        NOW,
    )
    assert decision == Resolve(closes=True, turns_flapping=False, transitions=0)


def test_a_resolution_without_a_remediation_or_of_a_resolved_one_closes_nothing() -> None:
    resolved = row(AlertStatus.RESOLVED)
    for current in (None, remediation(resolved_at=NOW - 5)):
        decision = decide(resolved, alert(AlertStatus.RESOLVED), known(current), PLAIN, 10, NOW)
        assert decision == Resolve(closes=False, turns_flapping=False, transitions=0)


def test_a_resolution_that_reaches_the_flapping_rule_turns_the_remediation_flapping() -> None:
    decision = decide(
        row(AlertStatus.RESOLVED),
        alert(AlertStatus.RESOLVED),
        known(remediation(), history=flapping_history()),
        FLAPPING,
        10,
        NOW,
    )
    assert decision == Resolve(closes=True, turns_flapping=True, transitions=5)


def test_a_firing_alert_of_an_open_run_is_an_occurrence() -> None:
    decision = decide(row(), alert(), known(remediation(), run_open=True), PLAIN, 10, NOW)
    assert decision == Occur(turns_flapping=False, transitions=0)


def test_a_firing_alert_of_a_flapping_remediation_is_an_occurrence_after_its_run_ended() -> None:
    history = [*flapping_history()[:4], seen(5, AlertStatus.RESOLVED, State.RESOLVED, NOW - 10)]
    current = remediation(flapping=True, last_seen=NOW - 20)
    decision = decide(row(), alert(), known(current, history=history), FLAPPING, 10, NOW)
    assert decision == Occur(turns_flapping=False, transitions=4)


def test_a_firing_alert_of_a_finished_run_starts_a_new_one() -> None:
    decision = decide(row(), alert(), known(remediation(), run_open=False), PLAIN, 10, NOW)
    assert decision == Start(held=(), flapping=False, transitions=0)


def test_below_its_threshold_an_alert_is_held() -> None:
    history = [seen(1, AlertStatus.FIRING, State.HELD, NOW - 30)]
    decision = decide(row(), alert(), known(history=history), THRESHOLD, 10, NOW)
    assert decision == Hold()


def test_held_alerts_outside_the_window_do_not_count() -> None:
    history = [
        seen(1, AlertStatus.FIRING, State.HELD, NOW - 90),
        seen(2, AlertStatus.FIRING, State.HELD, NOW - 30),
    ]
    decision = decide(row(), alert(), known(history=history), THRESHOLD, 10, NOW)
    assert decision == Hold()


def test_reaching_the_threshold_starts_a_run_that_counts_the_held_alerts() -> None:
    history = [
        seen(1, AlertStatus.FIRING, State.HELD, NOW - 40),
        seen(2, AlertStatus.FIRING, State.EXPIRED, NOW - 35),
        seen(3, AlertStatus.FIRING, State.HELD, NOW - 30),
    ]
    decision = decide(row(), alert(), known(history=history), THRESHOLD, 10, NOW)
    assert decision == Start(held=(history[0], history[2]), flapping=False, transitions=0)
    assert isinstance(decision, Start)
    assert decision.occurrences == 3


def test_a_check_no_threshold_matches_starts_at_once() -> None:
    decision = decide(row(), alert(check_id="other"), known(), THRESHOLD, 10, NOW)
    assert decision == Start(held=(), flapping=False, transitions=0)


def test_a_flapping_alert_skips_its_threshold_and_starts_a_flapping_run() -> None:
    rules = GatewayPolicy(flapping=FLAPPING.flapping, thresholds=THRESHOLD.thresholds)
    history = flapping_history()[:4]
    decision = decide(row(), alert(), known(history=history), rules, 10, NOW)
    assert decision == Start(held=(), flapping=True, transitions=4)


def test_over_the_cap_the_alert_waits_until_the_oldest_start_leaves_the_minute() -> None:
    starts = [NOW - 70, NOW - 50, NOW - 20]
    decision = decide(row(), alert(), known(starts=starts), PLAIN, 2, NOW)
    assert decision == Defer(retry_in=10.0)


def test_the_cap_waits_at_least_a_moment() -> None:
    decision = decide(row(), alert(), known(starts=[NOW - 60 + 0.01]), PLAIN, 1, NOW)
    assert decision == Defer(retry_in=0.05)


def test_under_the_cap_a_run_starts() -> None:
    decision = decide(row(), alert(), known(starts=[NOW - 70, NOW - 20]), PLAIN, 2, NOW)
    assert decision == Start(held=(), flapping=False, transitions=0)


def test_failed_alerts_and_those_before_the_window_are_not_transitions() -> None:
    history = [
        seen(1, AlertStatus.RESOLVED, State.RESOLVED, NOW - 400),
        seen(2, AlertStatus.FIRING, State.DELIVERED, NOW - 60),
        seen(3, AlertStatus.RESOLVED, State.FAILED, NOW - 50),
        seen(4, AlertStatus.RESOLVED, State.RESOLVED, NOW - 40),
    ]
    assert transitions(row(), history, FLAPPING) == 2
    assert transitions(row(), history, PLAIN) == 0
