"""Prometheus metrics of one gateway instance (own registry, so several can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

PREFIX = "remediate_gateway_"


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = self._counter("received", "Alert requests received, by format.", "format")
        self.accepted = self._counter(
            "accepted", "Alerts committed to the outbox, by format.", "format"
        )
        self.rejected = self._counter("rejected", "Requests refused, by reason.", "reason")
        self.deduplicated = self._counter(
            "deduplicated",
            "Alerts not starting a run: a repeated delivery or an occurrence of an open run.",
            "kind",
        )
        self.deferred = self._counter(
            "deferred",
            "Alerts held back, by reason: the cap on new remediations per minute (cap) or an "
            "occurrence threshold not yet reached (threshold).",
            "reason",
            ("cap", "threshold"),
        )
        self.expired = self._counter(
            "expired",
            "Held alerts whose threshold window closed before enough occurrences arrived; they "
            "start nothing and stay in the outbox (state expired) until pruned.",
        )
        self.notes = self._counter(
            "notes",
            "Issue comments owed by the gateway (resolutions, flapping), by result: posted, "
            "no_issue (the run opened none), failed, retried.",
            "result",
            ("posted", "no_issue", "failed", "retried"),
        )
        self.acknowledged = self._counter(
            "acknowledged",
            "Acknowledgements received (PagerDuty incident.acknowledged), by format; they start"
            " and resolve nothing.",
            "format",
        )
        self.silenced = self._counter(
            "silenced",
            "Alerts that started a run inside a maintenance window or silence, by kind: the run "
            "is recorded and tagged but starts no investigation, fix proposal or action.",
            "kind",
            ("maintenance", "silence"),
        )
        self.delivered = self._counter("delivered", "Alerts that started a remediation run.")
        self.delivery_failures = self._counter(
            "delivery_failures",
            "Delivery attempts that failed, by kind (transient ones are retried).",
            "kind",
        )
        self.latency = Histogram(
            f"{PREFIX}delivery_latency_seconds",
            "Time from acceptance to the flow run being created.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            f"{PREFIX}outbox_depth", "Accepted alerts not yet delivered.", registry=self.registry
        )

    def _counter(
        self, name: str, documentation: str, label: str | None = None, shown: tuple[str, ...] = ()
    ) -> Counter:
        """``shown``: label values exported (as 0) before they first occur."""
        counter = Counter(
            PREFIX + name, documentation, [label] if label else [], registry=self.registry
        )
        for value in shown:
            counter.labels(value)
        return counter

    def render(self) -> bytes:
        return generate_latest(self.registry)
