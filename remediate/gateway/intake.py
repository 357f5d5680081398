"""One path for every intake request: guard, read the body, authenticate, parse, accept.

A format only says how its sender authenticates, how its payload becomes alerts and how
the answer looks; the limits, status codes and metrics are the same for all of them.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from remediate.alerts import Alert, NotAnAlert
from remediate.gateway.auth import (
    SIGNATURE_HEADER,
    Unauthorized,
    verify_grafana_signature,
    verify_signature,
    verify_token,
)
from remediate.gateway.config import GatewayConfig
from remediate.gateway.formats import (
    PayloadError,
    alertmanager_alerts,
    generic_alert,
    grafana_alerts,
    parse_json,
    sentinel_alert,
)
from remediate.gateway.metrics import GatewayMetrics
from remediate.gateway.ratelimit import RateLimiter
from remediate.gateway.schemas import Accepted

Accept = Callable[[str, list[Alert]], Awaitable[Accepted]]


class Refused(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        problems: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.problems = problems or []
        self.headers = headers


@dataclass(frozen=True)
class IntakeFormat:
    name: str
    """The ``format`` label of the intake metrics."""
    authenticate: Callable[[Request, bytes], None]
    parse: Callable[[Any], list[Alert]]
    answer: Callable[[Accepted], Response]


def json_answer(body: Accepted) -> Response:
    """202 with what was recorded; 200 when the payload held no alert."""
    status = 200 if body.ignored is not None else 202
    return Response(body.model_dump_json(), status_code=status, media_type="application/json")


def no_content(body: Accepted) -> Response:
    return Response(status_code=204)


def _unauthorized(exc: Unauthorized) -> Refused:
    return Refused(
        401, f"auth_{exc.reason}", "authentication failed", headers={"WWW-Authenticate": "Bearer"}
    )


def _malformed(exc: PayloadError) -> Refused:
    first = exc.problems[0][0] if exc.problems else "body"
    return Refused(422, "malformed", f"malformed payload at {first}", exc.problems)


@dataclass
class Intake:
    """The intake path, and the formats it serves by name."""

    config: GatewayConfig
    metrics: GatewayMetrics
    accept: Accept
    clock: Callable[[], float] = time.time
    limiter: RateLimiter = field(init=False)
    formats: dict[str, IntakeFormat] = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.rate_per_s, self.config.rate_burst)
        self.formats = {
            f.name: f
            for f in (
                IntakeFormat("sentinel", self.signature, _single(sentinel_alert), json_answer),
                IntakeFormat("dispatch", self.token, _single(sentinel_alert), no_content),
                IntakeFormat("alertmanager", self.token, alertmanager_alerts, json_answer),
                IntakeFormat("grafana", self.grafana_signature, grafana_alerts, json_answer),
                IntakeFormat("generic", self.signature_or_token, self.generic_alerts, json_answer),
            )
        }

    async def handle(self, request: Request, fmt: IntakeFormat) -> Response:
        self.guard(request, fmt.name)
        raw = await self.body(request)
        fmt.authenticate(request, raw)
        try:
            alerts = fmt.parse(parse_json(raw))
        except PayloadError as exc:
            raise _malformed(exc) from None
        except NotAnAlert as exc:
            return fmt.answer(Accepted(accepted=0, duplicates=0, alerts=[], ignored=str(exc)))
        return fmt.answer(await self.accept(fmt.name, alerts))

    def guard(self, request: Request, fmt: str) -> None:
        self.metrics.received.labels(fmt).inc()
        client = request.client.host if request.client else "unknown"
        if self.config.allow_cidrs:
            try:
                address = ipaddress.ip_address(client)
            except ValueError:
                address = None
            if address is None or not any(address in net for net in self.config.allow_cidrs):
                raise Refused(403, "source_not_allowed", "source address not allowed")
        wait = self.limiter.retry_after(client)
        if wait is not None:
            raise Refused(
                429, "rate_limited", "too many requests", headers={"Retry-After": str(wait)}
            )

    async def body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(413, "too_large", f"body larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Refused(413, "too_large", f"body larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def token(self, request: Request, raw: bytes) -> None:
        try:
            verify_token(request.headers.get("authorization"), self.config.tokens)
        except Unauthorized as exc:
            raise _unauthorized(exc) from None

    def signature(self, request: Request, raw: bytes) -> None:
        try:
            verify_signature(
                request.headers.get(SIGNATURE_HEADER),
                raw,
                self.config.secrets,
                self.clock(),
                self.config.signature_tolerance_s,
            )
        except Unauthorized as exc:
            raise _unauthorized(exc) from None

    def signature_or_token(self, request: Request, raw: bytes) -> None:
        if request.headers.get(SIGNATURE_HEADER):
            self.signature(request, raw)
        else:
            self.token(request, raw)

    def grafana_signature(self, request: Request, raw: bytes) -> None:
        """Grafana's HMAC when a signature header is configured, else a token."""
        header = self.config.grafana_signature_header
        if not header:
            self.token(request, raw)
            return
        stamp_header = self.config.grafana_timestamp_header
        try:
            verify_grafana_signature(
                request.headers.get(header),
                request.headers.get(stamp_header) if stamp_header else None,
                raw,
                self.config.secrets,
                self.clock(),
                self.config.signature_tolerance_s,
                timestamp_required=bool(stamp_header),
            )
        except Unauthorized as exc:
            raise _unauthorized(exc) from None

    def generic_alerts(self, payload: Any) -> list[Alert]:
        return [generic_alert(payload, datetime.fromtimestamp(self.clock(), UTC))]


def _single(parse: Callable[[Any], Alert]) -> Callable[[Any], list[Alert]]:
    return lambda payload: [parse(payload)]
