"""The outbox interface, and the group commit every backend shares: the entries of all
requests waiting while a batch is written go into the next transaction together."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any

from .records import Entry, Note, NoteState, Outcome, Remediation, Row, Seen

STALE_CLAIM_S = 120.0
"""A claim unfinished this long belongs to a gateway that stopped while handling it."""

log = logging.getLogger("remediate.gateway.outbox")


class OutboxUnavailable(Exception):
    """The outbox could not commit (disk full, database down): nothing was recorded."""


class Outbox(ABC):
    unavailable: tuple[type[BaseException], ...] = (OSError,)
    """The errors of a write that did not commit because storage is failing, not because of
    what was written; the caller is answered 503 and sends again."""

    def __init__(self) -> None:
        self._waiting: list[tuple[list[Entry], asyncio.Future[list[bool]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, entries: list[Entry]) -> list[bool]:
        """Commit ``entries``; for each, True if new, False if that delivery was already known.
        Raises ``OutboxUnavailable`` when storage fails: then none of them is recorded."""
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                results = await self._insert([e for entries, _ in batch for e in entries])
            except Exception as exc:
                failure: Exception = exc
                if isinstance(exc, self.unavailable):
                    log.warning("outbox write failed, %d requests refused: %r", len(batch), exc)
                    failure = OutboxUnavailable(f"{type(exc).__name__}: {exc}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                continue
            start = 0
            for entries, future in batch:
                if not future.done():
                    future.set_result(results[start : start + len(entries)])
                start += len(entries)

    async def lead(self) -> bool:
        """Whether this gateway may deliver (one deliverer per shared outbox)."""
        return True

    @property
    def leading(self) -> bool:
        """What the last ``lead`` answered, without asking again."""
        return True

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def _insert(self, entries: list[Entry]) -> list[bool]: ...

    @abstractmethod
    async def pending(self, limit: int) -> list[Row]: ...

    async def remediations(self, fingerprints: list[str]) -> dict[str, Remediation]:
        rows = await self._remediation_rows(sorted(set(fingerprints)))
        return {row[0]: Remediation(*row) for row in rows}

    async def history(self, fingerprints: list[str], since: float) -> list[Seen]:
        """Handled (not pending) alerts of ``fingerprints`` received after ``since``, by seq."""
        rows = await self._history_rows(sorted(set(fingerprints)), since)
        return [Seen.stored(*row) for row in rows]

    @abstractmethod
    async def _remediation_rows(self, fingerprints: list[str]) -> list[tuple[Any, ...]]:
        """The ``Remediation`` columns, in field order, of ``fingerprints`` (distinct)."""

    @abstractmethod
    async def _history_rows(self, fingerprints: list[str], since: float) -> list[tuple[Any, ...]]:
        """The ``Seen`` columns, in field order, of the history of ``fingerprints``."""

    @abstractmethod
    async def starts_since(self, since: float) -> list[float]:
        """Times at which new runs were started after ``since``, oldest first."""

    async def commit(
        self,
        outcomes: list[Outcome],
        remediations: list[Remediation],
        notes: list[Note] | None = None,
    ) -> None:
        """Write outcomes, remediations and the notes they owe in one transaction."""
        await self._commit(outcomes, remediations, notes or [])

    @abstractmethod
    async def _commit(
        self, outcomes: list[Outcome], remediations: list[Remediation], notes: list[Note]
    ) -> None: ...

    @abstractmethod
    async def held(self, limit: int) -> list[Row]:
        """Alerts in state ``held``, oldest first."""

    @abstractmethod
    async def due_notes(self, now: float, limit: int, horizon_s: float) -> list[Note]:
        """Notes not yet written whose next attempt is due, or is more than ``horizon_s``
        (the longest retry delay) away: scheduled under a clock since stepped back."""

    @abstractmethod
    async def finish_note(
        self, key: str, state: NoteState, issue: int | None, now: float
    ) -> None: ...

    @abstractmethod
    async def retry_note(self, key: str, next_at: float, error: str) -> None: ...

    @abstractmethod
    async def note_counts(self) -> dict[str, int]: ...

    @abstractmethod
    async def claim(self, key: str, now: float) -> bool:
        """Record that the delivery ``key`` (a GitHub comment, an acknowledgement) is being
        handled; False when it was handled or is being handled, so a redelivery, also after
        a restart, does nothing twice. A claim never finished and older than
        ``STALE_CLAIM_S`` (its gateway stopped mid-way) is taken over."""

    @abstractmethod
    async def finish(self, key: str) -> None:
        """The claimed delivery was handled: it is never taken over."""

    @abstractmethod
    async def release(self, key: str) -> None:
        """Forget a claim whose handling failed, so a redelivery handles it."""

    @abstractmethod
    async def postpone(self, seqs: list[int], error: str) -> None: ...

    @abstractmethod
    async def counts(self) -> dict[str, int]: ...

    @abstractmethod
    async def prune(self, before: float) -> int:
        """Empty the alerts of rows finished before ``before`` (keeping their delivery keys,
        so a replay stays a duplicate) and delete written notes; returns the rows emptied."""
