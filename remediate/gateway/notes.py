"""Comments the gateway owes an issue (a resolution, flapping), written from the outbox.

Each note is committed to the outbox together with the alert that caused it and carries an
idempotency key that the tracker keeps as a hidden marker in the comment, so sender retries,
gateway restarts and a crash between writing and recording leave exactly one comment.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from remediate.alerts import Alert
from remediate.catalog import Catalog
from remediate.gateway.metrics import GatewayMetrics
from remediate.gateway.outbox import Note, NoteState, Outbox
from remediate.markdown import inline
from remediate.redaction import Redactor
from remediate.runs.api import PrefectAPI, PrefectAPIError
from remediate.settings import get_settings
from remediate.trackers import Tracker, make_tracker
from remediate.trackers.errors import TrackerConfigError, TrackerError

log = logging.getLogger("remediate.gateway.notes")

BATCH = 20
GIVE_UP_S = 86400.0


def catalog_redactor(catalog: Catalog) -> Redactor:
    return Redactor((p.name, p.pattern) for p in catalog.evidence.redact)


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def resolution_note(
    alert: Alert, flow_run_id: str, delivery_key: str, received_at: float, redact: Redactor
) -> Note:
    """ "Resolved at <time> by <source>": the sender's end time when it gave one."""
    ended = alert.details.get("ends_at")
    when = _stamp(received_at)
    if isinstance(ended, str):
        with contextlib.suppress(ValueError):
            when = datetime.fromisoformat(ended).astimezone(UTC).isoformat(timespec="seconds")
    digest = hashlib.sha256(delivery_key.encode()).hexdigest()[:20]
    text = (
        f"Resolved at {when} by {inline(redact(alert.source), 100)}"
        f" (alert {inline(redact(alert.id), 200)})."
    )
    return Note(
        key=f"resolved:{alert.fingerprint}:{digest}",
        fingerprint=alert.fingerprint,
        flow_run_id=flow_run_id,
        service=alert.service,
        text=text,
        created_at=received_at,
    )


def flapping_note(
    alert: Alert, flow_run_id: str, transitions: int, window_s: float, received_at: float
) -> Note:
    return Note(
        key=f"flapping:{alert.fingerprint}:{flow_run_id}",
        fingerprint=alert.fingerprint,
        flow_run_id=flow_run_id,
        service=alert.service,
        text=(
            f"Flapping: {transitions} firing/resolved transitions within {window_s:g} s"
            f" (as of {_stamp(received_at)}). Further firing alerts count as occurrences of"
            " this remediation."
        ),
        created_at=received_at,
    )


class IssueNotes:
    """Writes due notes; waits while the run has not opened the issue yet."""

    def __init__(
        self,
        outbox: Outbox,
        prefect: PrefectAPI,
        metrics: GatewayMetrics,
        catalog: Catalog,
        data_dir: Path,
        retry_initial_s: float,
        retry_max_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.prefect = prefect
        self.metrics = metrics
        self.catalog = catalog
        self.settings = get_settings().model_copy(update={"data_dir": data_dir})
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.clock = clock
        self.wake = asyncio.Event()
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True
        self.wake.set()

    async def run_forever(self) -> None:
        while not self._stopped:
            try:
                await self.write_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing issue notes failed; retrying")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=max(0.05, self.retry_initial_s))

    async def write_due(self) -> int:
        """Write (or reschedule) every due note; returns how many were handled."""
        if not await self.outbox.lead():
            return 0
        notes = await self.outbox.due_notes(self.clock(), BATCH, self.retry_max_s)
        for note in notes:
            await self._write(note)
        return len(notes)

    def _tracker(self, note: Note) -> Tracker:
        return make_tracker(self.catalog, self.catalog.service(note.service), self.settings)

    async def _write(self, note: Note) -> None:
        now = self.clock()
        try:
            states = await self.prefect.flow_run_states([note.flow_run_id])
        except PrefectAPIError as exc:
            await self._retry(note, f"run state unknown: {exc}")
            return
        state = states.get(note.flow_run_id)
        run_open = state is not None and state.open
        try:
            tracker = self._tracker(note)
            number = await asyncio.to_thread(tracker.issue_for, note.fingerprint)
            if number is None:
                if run_open and now - note.created_at < GIVE_UP_S:
                    await self._retry(note, "the run has not opened an issue yet")
                    return
                await self._finish(note, NoteState.NO_ISSUE, None)
                return
            written = await asyncio.to_thread(tracker.add_comment, number, note.key, note.text)
        except TrackerConfigError as exc:
            log.error("note %s not written: %s", note.key, exc)
            await self._finish(note, NoteState.FAILED, None)
            return
        except TrackerError as exc:
            if exc.retriable:
                await self._retry(note, str(exc))
            else:
                log.error("note %s not written: %s", note.key, exc)
                await self._finish(note, NoteState.FAILED, None)
            return
        log.info(
            "note %s %s issue #%d", note.key, "written on" if written else "already on", number
        )
        await self._finish(note, NoteState.POSTED, number)

    async def _finish(self, note: Note, state: NoteState, issue: int | None) -> None:
        await self.outbox.finish_note(note.key, state, issue, self.clock())
        self.metrics.notes.labels(state).inc()

    async def _retry(self, note: Note, error: str) -> None:
        delay = min(self.retry_max_s, self.retry_initial_s * 2 ** min(note.attempts, 20))
        await self.outbox.retry_note(note.key, self.clock() + delay, error)
        self.metrics.notes.labels("retried").inc()
