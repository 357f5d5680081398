"""The delivery loop: outbox rows, in order, become flow runs, occurrences or resolutions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from remediate.alerts import Alert, AlertStatus
from remediate.controls.config import ControlsConfig
from remediate.controls.silences import Silence, suppression_for
from remediate.controls.store import SilenceStore
from remediate.gateway.decision import (
    WINDOW_S,
    Defer,
    Hold,
    Known,
    Occur,
    Resolve,
    Start,
    decide,
    flapping_window,
)
from remediate.gateway.metrics import GatewayMetrics
from remediate.gateway.notes import flapping_note, resolution_note
from remediate.gateway.outbox import Note, Outbox, Outcome, Remediation, Row, Seen, State
from remediate.gateway.policy import GatewayPolicy
from remediate.redaction import Redactor
from remediate.runs.api import PrefectAPI, PrefectAPIError, RunState
from remediate.runs.tags import DEPLOYMENT, creation_tags

log = logging.getLogger("remediate.gateway.delivery")

BATCH = 200
# A 503 comes from a server that answers but is busy (Prefect on SQLite answers 503 while its
# database is locked): retry within this, however many came before.
BUSY_RETRY_MAX_S = 2.0
EXPIRY_BATCH = 500


@dataclass
class DeliveryPolicy:
    max_new_per_minute: int = 10
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    run_state_cache_s: float = 2.0
    retention_s: float = 7 * 86400.0
    deployment: str = DEPLOYMENT
    publish_interval_s: float = 5.0
    rules: GatewayPolicy = field(default_factory=GatewayPolicy)
    controls: ControlsConfig = field(default_factory=ControlsConfig)

    def horizon_s(self) -> float:
        """The longest window any threshold or the flapping rule looks back."""
        windows = [t.window_s for t in self.rules.thresholds]
        if self.rules.flapping is not None:
            windows.append(self.rules.flapping.window_s)
        return max(windows, default=0.0)


def is_transient(error: PrefectAPIError) -> bool:
    """Worth retrying: unreachable, busy, or refusing the credential (401/403), which an
    operator fixes without the alert having to be sent again."""
    retried = (401, 403, 404, 408, 429)
    return error.status is None or error.status in retried or error.status >= 500


@dataclass
class _Batch:
    outcomes: list[Outcome] = field(default_factory=list)
    remediations: dict[str, Remediation] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    retry_in: float | None = None
    failed_seqs: list[int] = field(default_factory=list)
    error: str = ""
    history: dict[str, list[Seen]] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    silences: list[Silence] = field(default_factory=list)
    """Every silence not ended before the oldest row was received."""

    def record(self, row: Row, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.history.setdefault(row.fingerprint, []).append(
            Seen(row.seq, row.fingerprint, row.status, outcome.state, row.received_at)
        )


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        prefect: PrefectAPI,
        metrics: GatewayMetrics,
        policy: DeliveryPolicy,
        clock: Callable[[], float] = time.time,
        redactor: Redactor | None = None,
        notes_wake: asyncio.Event | None = None,
        silences: SilenceStore | None = None,
    ) -> None:
        self.outbox = outbox
        self.silences = silences
        self.redactor = redactor or Redactor()
        self.notes_wake = notes_wake
        self.prefect = prefect
        self.metrics = metrics
        self.policy = policy
        self.clock = clock
        self.wake = asyncio.Event()
        self._stopped = False
        self._publish = asyncio.Event()
        self.prefect_reachable: bool | None = None
        self._backoff = 0.0
        self._run_states: dict[str, tuple[float, RunState | None]] = {}
        self._deferred: set[int] = set()
        self._last_prune = 0.0
        self._unpublished: dict[str, Remediation] = {}
        self._published_at: dict[str, float] = {}

    async def run_forever(self) -> None:
        while not self._stopped:
            try:
                wait = await self.deliver_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery loop error; retrying")
                wait = self._next_backoff()
            if wait > 0 and not self._stopped:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=wait)

    async def publish_forever(self) -> None:
        """Show occurrence counts on open runs, apart from delivery so it never slows it."""
        while not self._stopped:
            try:
                await self._publish_occurrences(self.clock())
            except Exception:
                log.exception("publishing occurrence counts failed; retrying")
            self._publish.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._publish.wait(), timeout=max(0.05, self.policy.publish_interval_s)
                )

    def stop(self) -> None:
        self._stopped = True
        self.wake.set()
        self._publish.set()

    def _next_backoff(self) -> float:
        self._backoff = min(
            self.policy.retry_max_s, max(self.policy.retry_initial_s, self._backoff * 2)
        )
        return self._backoff

    async def deliver_once(self) -> float:
        """Process one batch; returns how long to wait before the next (0: more work now)."""
        if not await self.outbox.lead():
            return 1.0
        now = self.clock()
        await self._maybe_prune(now)
        rows = await self.outbox.pending(BATCH)
        self.metrics.outbox_depth.set(len(rows) if len(rows) < BATCH else (await self._depth()))
        await self._expire_held(now, rows)
        if not rows:
            return 1.0
        batch = _Batch()
        batch.remediations = await self.outbox.remediations([r.fingerprint for r in rows])
        if self.silences is not None:
            # a store that cannot be read raises: the alerts wait rather than start runs
            # that may act
            batch.silences = await self.silences.listing(min(r.received_at for r in rows))
        horizon = self.policy.horizon_s()
        if horizon > 0:
            since = min(r.received_at for r in rows) - horizon
            for seen in await self.outbox.history([r.fingerprint for r in rows], since):
                batch.history.setdefault(seen.fingerprint, []).append(seen)
        starts = await self.outbox.starts_since(now - WINDOW_S)
        known = {r.flow_run_id for r in batch.remediations.values()}
        try:
            await self._refresh_states(known, now)
        except PrefectAPIError as exc:
            batch.retry_in = self._next_backoff()
            self.prefect_reachable = exc.status is not None
            self.metrics.delivery_failures.labels("transient").inc()
            log.warning("delivery postponed %.1f s: %s", batch.retry_in, exc)
            return batch.retry_in
        for row in rows:
            if not await self._handle(row, batch, starts):
                break
        await self.outbox.commit(
            batch.outcomes, [batch.remediations[f] for f in batch.touched], batch.notes
        )
        if batch.notes and self.notes_wake is not None:
            self.notes_wake.set()
        if batch.failed_seqs:
            await self.outbox.postpone(batch.failed_seqs, batch.error)
        for fingerprint in batch.touched:
            self._unpublished[fingerprint] = batch.remediations[fingerprint]
        if batch.touched:
            self._publish.set()
        done = len(batch.outcomes)
        self.metrics.outbox_depth.set(max(0, len(rows) - done))
        if batch.retry_in is not None:
            return batch.retry_in
        self._backoff = 0.0
        return 0.0 if done else 1.0

    async def _depth(self) -> int:
        counts = await self.outbox.counts()
        return counts[State.PENDING]

    async def _expire_held(self, now: float, pending: list[Row]) -> None:
        """Held alerts whose threshold window closed (for every alert still to be decided,
        too) can no longer count towards a run: they become ``expired``."""
        cutoff = min([r.received_at for r in pending] + [now])
        expired = []
        for row in await self.outbox.held(EXPIRY_BATCH):
            window = 0.0
            try:
                alert = Alert.model_validate_json(row.alert_json)
            except ValueError:
                pass
            else:
                threshold = self.policy.rules.threshold_for(alert.check_id, alert.severity)
                window = threshold.window_s if threshold is not None else 0.0
            if row.received_at + window <= cutoff:
                expired.append(Outcome(row.seq, State.EXPIRED, now))
        if expired:
            await self.outbox.commit(expired, [])
            self.metrics.expired.inc(len(expired))
            log.info("%d held alerts expired without reaching their threshold", len(expired))

    async def _maybe_prune(self, now: float) -> None:
        if not 0 <= now - self._last_prune <= 3600:
            self._last_prune = now
            removed = await self.outbox.prune(now - self.policy.retention_s)
            if removed:
                log.info("emptied %d finished outbox rows (their keys stay)", removed)

    async def _handle(self, row: Row, batch: _Batch, starts: list[float]) -> bool:
        """Decide one row and carry the decision out; False stops the batch (retry later or
        cap reached)."""
        now = self.clock()
        try:
            alert = Alert.model_validate_json(row.alert_json)
        except ValueError as exc:
            error = f"stored alert invalid: {exc}"
            batch.record(row, Outcome(row.seq, State.FAILED, now, error=error))
            self.metrics.delivery_failures.labels("invalid").inc()
            return True
        current = batch.remediations.get(row.fingerprint)
        run_open = False
        if current is not None and alert.status is not AlertStatus.RESOLVED:
            if current.flow_run_id not in self._run_states:
                try:
                    await self._refresh_states({current.flow_run_id}, now)
                except PrefectAPIError as exc:
                    return self._transient(row, batch, exc)
            run_open = self._run_was_open(current.flow_run_id, row.received_at)
        known = Known(current, run_open, batch.history.get(row.fingerprint, []), starts)
        rules = self.policy.rules
        match decide(row, alert, known, rules, self.policy.max_new_per_minute, now):
            case Resolve() as resolve:
                self._resolve(alert, row, batch, resolve, now)
            case Occur() as occur:
                self._occur(alert, row, batch, occur, now)
            case Hold():
                batch.record(row, Outcome(row.seq, State.HELD, now))
                self.metrics.deferred.labels("threshold").inc()
            case Defer(retry_in=retry_in):
                if row.seq not in self._deferred:
                    self._deferred.add(row.seq)
                    self.metrics.deferred.labels("cap").inc()
                batch.retry_in = retry_in
                return False
            case Start() as start:
                return await self._start(alert, row, batch, start, starts, now)
        return True

    def _resolve(self, alert: Alert, row: Row, batch: _Batch, resolve: Resolve, now: float) -> None:
        current = batch.remediations.get(row.fingerprint)
        if current is not None:
            if resolve.closes:
                current.resolved_at = row.received_at
                batch.touched.add(row.fingerprint)
                batch.notes.append(
                    resolution_note(
                        alert, current.flow_run_id, row.delivery_key, row.received_at, self.redactor
                    )
                )
            if resolve.turns_flapping:
                self._now_flapping(alert, row, batch, current, resolve.transitions)
        run_id = current.flow_run_id if current else None
        batch.record(row, Outcome(row.seq, State.RESOLVED, now, flow_run_id=run_id))

    def _occur(self, alert: Alert, row: Row, batch: _Batch, occur: Occur, now: float) -> None:
        current = batch.remediations[row.fingerprint]
        if occur.turns_flapping:
            self._now_flapping(alert, row, batch, current, occur.transitions)
        current.occurrences += 1
        current.last_seen = max(current.last_seen, row.received_at)
        batch.touched.add(row.fingerprint)
        batch.record(row, Outcome(row.seq, State.OCCURRENCE, now, flow_run_id=current.flow_run_id))
        self.metrics.deduplicated.labels("occurrence").inc()

    async def _start(
        self, alert: Alert, row: Row, batch: _Batch, start: Start, starts: list[float], now: float
    ) -> bool:
        window = flapping_window(self.policy.rules)
        suppression = suppression_for(
            alert.service, alert.check_id, row.received_at, self.policy.controls, batch.silences
        )
        label = suppression.label if suppression is not None else None
        tags = tuple(creation_tags(start.occurrences, start.transitions, window, label))
        try:
            created = await self.prefect.submit_alert(alert, self.policy.deployment, tags)
        except PrefectAPIError as exc:
            if is_transient(exc):
                return self._transient(row, batch, exc)
            log.error("alert %s cannot be delivered: %s", row.delivery_key, exc)
            batch.record(row, Outcome(row.seq, State.FAILED, now, error=str(exc)[:2000]))
            self.metrics.delivery_failures.labels("permanent").inc()
            return True
        self.prefect_reachable = True
        # Progress: a busy moment (a 503 from a server whose database was locked) between
        # successful starts waits the first step again, not a doubled one.
        self._backoff = 0.0
        self._deferred.discard(row.seq)
        done = self.clock()
        starts.append(done)
        batch.remediations[row.fingerprint] = Remediation(
            fingerprint=row.fingerprint,
            flow_run_id=created.id,
            opened_at=done,
            occurrences=start.occurrences,
            last_seen=row.received_at,
            flapping=start.flapping,
        )
        batch.touched.add(row.fingerprint)
        self._count_held(row.fingerprint, start.held, batch, created.id, done)
        outcome = Outcome(row.seq, State.DELIVERED, done, flow_run_id=created.id, started_run=True)
        batch.record(row, outcome)
        self._run_states[created.id] = (done, RunState("SCHEDULED"))
        self.metrics.delivered.inc()
        self.metrics.latency.observe(max(0.0, done - row.received_at))
        if suppression is not None:
            self.metrics.silenced.labels(suppression.kind.value).inc()
            log.info(
                "alert %s started flow run %s inside %s: nothing will act on it",
                row.delivery_key,
                created.id,
                suppression.label,
            )
        else:
            log.info("alert %s started flow run %s", row.delivery_key, created.id)
        return True

    @staticmethod
    def _count_held(
        fingerprint: str, held: Sequence[Seen], batch: _Batch, run_id: str, now: float
    ) -> None:
        """The held alerts that reached the threshold become occurrences of the new run."""
        seqs = {s.seq for s in held}
        for seq in sorted(seqs):
            batch.outcomes.append(Outcome(seq, State.OCCURRENCE, now, flow_run_id=run_id))
        batch.history[fingerprint] = [
            Seen(s.seq, s.fingerprint, s.status, State.OCCURRENCE, s.received_at)
            if s.seq in seqs
            else s
            for s in batch.history.get(fingerprint, [])
        ]

    def _now_flapping(
        self, alert: Alert, row: Row, batch: _Batch, current: Remediation, transitions: int
    ) -> None:
        """An existing run turns flapping: its tag, and a note on its issue."""
        current.flapping = True
        batch.touched.add(row.fingerprint)
        window = flapping_window(self.policy.rules)
        batch.notes.append(
            flapping_note(alert, current.flow_run_id, transitions, window, row.received_at)
        )

    def _transient(self, row: Row, batch: _Batch, error: PrefectAPIError) -> bool:
        self.prefect_reachable = error.status is not None
        self.metrics.delivery_failures.labels("transient").inc()
        batch.failed_seqs.append(row.seq)
        batch.error = str(error)
        batch.retry_in = self._next_backoff()
        if error.status == 503:
            batch.retry_in = min(batch.retry_in, BUSY_RETRY_MAX_S)
        log.warning("delivery postponed %.1f s: %s", batch.retry_in, error)
        return False

    async def _refresh_states(self, run_ids: set[str], now: float) -> None:
        stale = [
            run_id
            for run_id in run_ids
            if run_id not in self._run_states
            or not 0 <= now - self._run_states[run_id][0] <= self.policy.run_state_cache_s
        ]
        if not stale:
            return
        if len(self._run_states) > 10_000:
            self._run_states.clear()
        states = await self.prefect.flow_run_states(stale)
        self.prefect_reachable = True
        for run_id in stale:
            self._run_states[run_id] = (now, states.get(run_id))

    def _run_was_open(self, run_id: str, received_at: float) -> bool:
        """Whether the run was under way when the alert arrived: an occurrence delivered late
        (delivery behind, Prefect busy) still belongs to the run it arrived during."""
        cached = self._run_states.get(run_id)
        state = cached[1] if cached else None
        return state is not None and state.open_at(received_at)

    async def flush(self) -> None:
        """Publish every pending occurrence count now (on shutdown)."""
        self._published_at.clear()
        await self._publish_occurrences(float("inf"))

    async def _publish_occurrences(self, now: float) -> None:
        """Show the occurrence count (and resolution) on the open run as tags, at most once per
        ``publish_interval_s`` per run."""
        for fingerprint in list(self._unpublished):
            if 0 <= now - self._published_at.get(fingerprint, 0.0) < self.policy.publish_interval_s:
                continue
            rem = self._unpublished.pop(fingerprint)
            if rem.occurrences <= 1 and rem.resolved_at is None and not rem.flapping:
                continue
            self._published_at[fingerprint] = now
            try:
                await self.prefect.set_occurrence_tags(
                    rem.flow_run_id, rem.occurrences, rem.resolved_at is not None, rem.flapping
                )
            except PrefectAPIError as exc:
                log.warning("occurrence count not shown on run %s: %s", rem.flow_run_id, exc)
        if len(self._published_at) > 10_000:
            self._published_at.clear()
