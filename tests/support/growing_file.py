"""A file that keeps growing while a test runs, for capacity forecasts that only need a
positive trend (the exact-slope test sets its samples' times and sizes instead)."""

from __future__ import annotations

import threading
import time
from pathlib import Path


class Grower:
    """Appends to a file at a fixed average rate, in small steps, until stopped."""

    def __init__(self, path: Path, chunk: int, every_s: float) -> None:
        self.path, self.chunk, self.every_s = path, chunk, every_s
        self.rate = chunk / every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        step = 0
        with self.path.open("ab") as handle:
            while not self._stop.is_set():
                step += 1
                handle.write(b"x" * self.chunk)
                handle.flush()
                self._stop.wait(max(0.0, start + step * self.every_s - time.monotonic()))

    def __enter__(self) -> Grower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
