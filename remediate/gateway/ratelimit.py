"""Per-client token buckets."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.rate = rate_per_s
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def retry_after(self, client: str, now: float | None = None) -> int | None:
        """None when the request may proceed, else whole seconds to wait."""
        if self.rate <= 0:
            return None
        now = self.clock() if now is None else now
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            self._trim()
            return None
        self._buckets[client] = (tokens, now)
        self._trim()
        return max(1, math.ceil((1 - tokens) / self.rate))

    def _trim(self) -> None:
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
