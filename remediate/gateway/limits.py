"""What one request may become: how many alerts, how large each, how large all together.

Group-level fields of an Alertmanager or Grafana webhook are copied into every alert of the
group, so a small body can become many times its size in stored alerts and run parameters;
these caps bound that before the alerts are built and again once they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class OverLimit(Exception):
    """The request would become more than a cap allows; ``limit`` names the cap."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit
        self.detail = detail


@dataclass(frozen=True)
class RequestLimits:
    max_alerts: int = 100
    max_alert_bytes: int = 65_536
    max_total_bytes: int = 2_097_152

    def check_count(self, count: int) -> None:
        if count > self.max_alerts:
            raise OverLimit(
                "max_alerts_per_request",
                f"request holds {count} alerts; max_alerts_per_request is {self.max_alerts}",
            )

    def check_copies(self, copied_bytes: int, count: int) -> None:
        """``copied_bytes`` of group fields go into each of ``count`` alerts."""
        self.check_count(count)
        if copied_bytes > self.max_alert_bytes:
            raise OverLimit(
                "max_alert_bytes",
                f"group fields of {copied_bytes} bytes are copied into every alert;"
                f" max_alert_bytes is {self.max_alert_bytes}",
            )
        if copied_bytes * count > self.max_total_bytes:
            raise OverLimit(
                "max_request_alert_bytes",
                f"group fields of {copied_bytes} bytes copied into {count} alerts exceed"
                f" max_request_alert_bytes ({self.max_total_bytes})",
            )

    def check_sizes(self, sizes: Sequence[int]) -> None:
        """``sizes`` are the stored sizes of the request's alerts."""
        self.check_count(len(sizes))
        for index, size in enumerate(sizes):
            if size > self.max_alert_bytes:
                raise OverLimit(
                    "max_alert_bytes",
                    f"alert {index} is {size} bytes stored; max_alert_bytes is"
                    f" {self.max_alert_bytes}",
                )
        total = sum(sizes)
        if total > self.max_total_bytes:
            raise OverLimit(
                "max_request_alert_bytes",
                f"the request's alerts are {total} bytes stored; max_request_alert_bytes is"
                f" {self.max_total_bytes}",
            )
