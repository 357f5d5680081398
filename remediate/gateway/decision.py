"""What becomes of one outbox alert, decided from what is known about its fingerprint.

Pure: no database, no Prefect, no clock; ``delivery`` gathers the facts and carries out
the decision.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from remediate.alerts import Alert, AlertStatus
from remediate.gateway.outbox import Remediation, Row, Seen, State
from remediate.gateway.policy import GatewayPolicy

WINDOW_S = 60.0


@dataclass(frozen=True)
class Known:
    """What the outbox and Prefect say about the alert's fingerprint."""

    remediation: Remediation | None
    run_open: bool
    """Whether the remediation's run was still under way when the alert was received (it may
    have ended since, when delivery is behind); consulted for a firing alert only."""
    history: Sequence[Seen]
    starts: Sequence[float]
    """When runs were started (any fingerprint), oldest first."""


@dataclass(frozen=True)
class Resolve:
    """Record the resolution; ``closes`` the open remediation (and owes a note) if any."""

    closes: bool
    turns_flapping: bool
    transitions: int


@dataclass(frozen=True)
class Occur:
    """Count the alert as an occurrence of the remediation already under way."""

    turns_flapping: bool
    transitions: int


@dataclass(frozen=True)
class Hold:
    """Below its threshold: wait for more occurrences."""


@dataclass(frozen=True)
class Defer:
    """Over the per-minute cap on new runs: try again in ``retry_in`` seconds."""

    retry_in: float


@dataclass(frozen=True)
class Start:
    """Start a run; the ``held`` alerts that reached the threshold become its occurrences."""

    held: tuple[Seen, ...]
    flapping: bool
    transitions: int
    """Firing/resolved transitions; 0 unless flapping."""

    @property
    def occurrences(self) -> int:
        return len(self.held) + 1


Decision = Resolve | Occur | Hold | Defer | Start


def transitions(row: Row, history: Sequence[Seen], rules: GatewayPolicy) -> int:
    """Firing/resolved changes of the row's fingerprint within the flapping window, this alert
    included."""
    if rules.flapping is None:
        return 0
    since = row.received_at - rules.flapping.window_s
    statuses = [s.status for s in history if s.received_at > since and s.state != State.FAILED]
    statuses.append(row.status)
    return sum(1 for a, b in itertools.pairwise(statuses) if a != b)


def flapping_window(rules: GatewayPolicy) -> float:
    return rules.flapping.window_s if rules.flapping is not None else 0.0


def decide(
    row: Row, alert: Alert, known: Known, rules: GatewayPolicy, cap: int, now: float
) -> Decision:
    """``cap`` is the number of new runs allowed per minute."""
    current = known.remediation
    changes = transitions(row, known.history, rules)
    flapping = rules.flapping is not None and changes >= rules.flapping.transitions
    turns_flapping = current is not None and flapping and not current.flapping
    if alert.status is AlertStatus.RESOLVED:
        closes = current is not None and current.resolved_at is None
        return Resolve(closes, turns_flapping, changes)
    if current is not None:
        still_flapping = (
            flapping
            and current.flapping
            and current.last_seen > row.received_at - flapping_window(rules)
        )
        if known.run_open or still_flapping:
            return Occur(turns_flapping, changes)
    held: list[Seen] = []
    if not flapping:
        threshold = rules.threshold_for(alert.check_id, alert.severity)
        if threshold is not None:
            since = row.received_at - threshold.window_s
            held = [s for s in known.history if s.state == State.HELD and s.received_at > since]
            if len(held) + 1 < threshold.occurrences:
                return Hold()
    # A start stamped later than now was made before the clock was stepped back: not
    # counted, or every new run would wait for the clock to catch up with it.
    recent = [t for t in known.starts if now - WINDOW_S < t <= now]
    if len(recent) >= cap:
        return Defer(max(0.05, recent[-cap] + WINDOW_S - now))
    return Start(tuple(held), flapping, changes if flapping else 0)
