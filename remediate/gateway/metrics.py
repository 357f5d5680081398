"""Prometheus metrics of one gateway instance (own registry, so several can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "remediate_gateway_received",
            "Alert requests received, by format.",
            ["format"],
            registry=self.registry,
        )
        self.accepted = Counter(
            "remediate_gateway_accepted",
            "Alerts committed to the outbox, by format.",
            ["format"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "remediate_gateway_rejected",
            "Requests refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.deduplicated = Counter(
            "remediate_gateway_deduplicated",
            "Alerts not starting a run: a repeated delivery or an occurrence of an open run.",
            ["kind"],
            registry=self.registry,
        )
        self.deferred = Counter(
            "remediate_gateway_deferred",
            "Alerts held back, by reason: the cap on new remediations per minute (cap) or an "
            "occurrence threshold not yet reached (threshold).",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("cap", "threshold"):
            self.deferred.labels(reason)
        self.expired = Counter(
            "remediate_gateway_expired",
            "Held alerts whose threshold window closed before enough occurrences arrived; they "
            "start nothing and stay in the outbox (state expired) until pruned.",
            registry=self.registry,
        )
        self.notes = Counter(
            "remediate_gateway_notes",
            "Issue comments owed by the gateway (resolutions, flapping), by result: posted, "
            "no_issue (the run opened none), failed, retried.",
            ["result"],
            registry=self.registry,
        )
        for result in ("posted", "no_issue", "failed", "retried"):
            self.notes.labels(result)
        self.delivered = Counter(
            "remediate_gateway_delivered",
            "Alerts that started a remediation run.",
            registry=self.registry,
        )
        self.delivery_failures = Counter(
            "remediate_gateway_delivery_failures",
            "Delivery attempts that failed, by kind (transient ones are retried).",
            ["kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "remediate_gateway_delivery_latency_seconds",
            "Time from acceptance to the flow run being created.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "remediate_gateway_outbox_depth",
            "Accepted alerts not yet delivered.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
