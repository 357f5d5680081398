"""One path for every intake request: guard, read the body, authenticate, parse, accept.

A format only says how its sender authenticates, how its payload becomes alerts and how
the answer looks; the limits, status codes and metrics are the same for all of them.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from remediate.alerts import Alert, NotAnAlert
from remediate.gateway.auth import (
    SIGNATURE_HEADER,
    Unauthorized,
    verify_body_signature,
    verify_grafana_signature,
    verify_signature,
    verify_token,
)
from remediate.gateway.config import GatewayConfig
from remediate.gateway.credentials import ENDPOINT_SOURCES, Credential, CredentialError
from remediate.gateway.formats import (
    PayloadError,
    alertmanager_alerts,
    claimed_generic_source,
    claimed_sentinel_source,
    generic_alert,
    grafana_alerts,
    parse_json,
    sentinel_alert,
)
from remediate.gateway.limits import OverLimit, RequestLimits
from remediate.gateway.metrics import GatewayMetrics
from remediate.gateway.ratelimit import RateLimiter
from remediate.gateway.schemas import Accepted
from remediate.gateway.sources.common import Acknowledged
from remediate.gateway.sources.datadog import datadog_alert
from remediate.gateway.sources.opsgenie import opsgenie_alert
from remediate.gateway.sources.pagerduty import WEBHOOK_ID_HEADER, pagerduty_alert, webhook_id
from remediate.gateway.sources.sentry import RESOURCE_HEADER, resource, sentry_alert

log = logging.getLogger("remediate.gateway")

PAGERDUTY_SIGNATURE_HEADER = "X-PagerDuty-Signature"
SENTRY_SIGNATURE_HEADER = "Sentry-Hook-Signature"

Accept = Callable[[str, Credential, list[Alert]], Awaitable[Accepted]]
Acknowledge = Callable[[Acknowledged], Awaitable[str]]
ReadBody = Callable[[], Awaitable[bytes]]
Authenticate = Callable[[Request, ReadBody], Awaitable[tuple[Credential, bytes]]]
"""Checks the request's credential, reading the body only when the check needs it (an
HMAC); returns the credential and the body."""


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
    authenticate: Authenticate
    parse: Callable[[Any, str, Headers], list[Alert]]
    """Payload, the source it is from and the request's headers."""
    answer: Callable[[Accepted], Response]
    claimed_source: Callable[[Any], str | None] = lambda payload: None
    """The source the payload names, for a credential configured to let it."""

    @property
    def source(self) -> str:
        return ENDPOINT_SOURCES[self.name]


def json_answer(body: Accepted) -> Response:
    """202 with what was recorded; 200 when the payload held no alert."""
    status = 200 if body.ignored is not None else 202
    return Response(body.model_dump_json(), status_code=status, media_type="application/json")


def no_content(body: Accepted) -> Response:
    return Response(status_code=204)


def _unauthorized(exc: Unauthorized) -> Refused:
    detail = "authentication failed" + (f": {exc.public}" if exc.public else "")
    return Refused(401, f"auth_{exc.reason}", detail, headers={"WWW-Authenticate": "Bearer"})


def not_permitted(exc: CredentialError) -> Refused:
    return Refused(403, "credential_scope", str(exc))


def over_limit(exc: OverLimit) -> Refused:
    return Refused(413, f"over_{exc.limit}", exc.detail)


def _malformed(exc: PayloadError) -> Refused:
    first = exc.problems[0][0] if exc.problems else "body"
    return Refused(422, "malformed", f"malformed payload at {first}", exc.problems)


@dataclass
class Intake:
    """The intake path, and the formats it serves by name."""

    config: GatewayConfig
    metrics: GatewayMetrics
    accept: Accept
    acknowledge: Acknowledge
    """Records an acknowledgement on its run and issue; returns what the answer says."""
    clock: Callable[[], float] = time.time
    limiter: RateLimiter = field(init=False)
    formats: dict[str, IntakeFormat] = field(init=False)

    def __post_init__(self) -> None:
        config = self.config
        self.limiter = RateLimiter(self.config.rate_per_s, self.config.rate_burst)
        self.limits = RequestLimits(
            self.config.max_alerts_per_request,
            self.config.max_alert_bytes,
            self.config.max_request_alert_bytes,
        )
        self.formats = {
            f.name: f
            for f in (
                IntakeFormat(
                    "sentinel", self.signature, _headless(_single(sentinel_alert)), json_answer
                ),
                IntakeFormat(
                    "dispatch",
                    self.token,
                    _headless(_single(sentinel_alert)),
                    no_content,
                    claimed_sentinel_source,
                ),
                IntakeFormat(
                    "alertmanager", self.token, _headless(self.alertmanager_alerts), json_answer
                ),
                IntakeFormat(
                    "grafana", self.grafana_signature, _headless(self.grafana_alerts), json_answer
                ),
                IntakeFormat(
                    "generic",
                    self.signature_or_token,
                    _headless(self.generic_alerts),
                    json_answer,
                    claimed_generic_source,
                ),
                IntakeFormat(
                    "pagerduty", self.pagerduty_signature, self.pagerduty_alerts, json_answer
                ),
                IntakeFormat("sentry", self.sentry_signature, self.sentry_alerts, json_answer),
                IntakeFormat(
                    "datadog",
                    self.tokens_of(config.datadog_tokens),
                    _headless(_single(datadog_alert)),
                    json_answer,
                ),
                IntakeFormat(
                    "opsgenie",
                    self.tokens_of(config.opsgenie_tokens),
                    _headless(self.opsgenie_alerts),
                    json_answer,
                ),
            )
        }

    async def handle(self, request: Request, fmt: IntakeFormat) -> Response:
        self.guard(request, fmt.name)
        credential, raw = await fmt.authenticate(request, lambda: self.body(request))
        try:
            payload = parse_json(raw)
            source = credential.source_for(fmt.source, fmt.claimed_source(payload))
            alerts = fmt.parse(payload, source, request.headers)
        except PayloadError as exc:
            raise _malformed(exc) from None
        except CredentialError as exc:
            raise not_permitted(exc) from None
        except OverLimit as exc:
            raise over_limit(exc) from None
        except NotAnAlert as exc:
            ignored = str(exc)
            if isinstance(exc, Acknowledged):
                self.metrics.acknowledged.labels(fmt.name).inc()
                ignored = await self.acknowledge(exc)
                log.info("%s: %r", fmt.name, ignored)
            return fmt.answer(Accepted(accepted=0, duplicates=0, alerts=[], ignored=ignored))
        return fmt.answer(await self.accept(fmt.name, credential, alerts))

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

    async def token(self, request: Request, read_body: ReadBody) -> tuple[Credential, bytes]:
        """A header token is checked before a byte of the body is read."""
        return await self.token_from(self.config.ingest_tokens, request, read_body)

    def tokens_of(self, tokens: list[Credential]) -> Authenticate:
        """A product's own tokens, which speak for that product only."""

        async def authenticate(request: Request, read_body: ReadBody) -> tuple[Credential, bytes]:
            return await self.token_from(tokens, request, read_body)

        return authenticate

    async def token_from(
        self, tokens: list[Credential], request: Request, read_body: ReadBody
    ) -> tuple[Credential, bytes]:
        try:
            matched = verify_token(request.headers.get("authorization"), [t.value for t in tokens])
        except Unauthorized as exc:
            raise _unauthorized(exc) from None
        return tokens[matched], await read_body()

    async def signature(self, request: Request, read_body: ReadBody) -> tuple[Credential, bytes]:
        if not request.headers.get(SIGNATURE_HEADER):
            raise _unauthorized(Unauthorized("missing_signature"))
        raw = await read_body()
        secrets = self.config.hmac_secrets
        try:
            matched = verify_signature(
                request.headers.get(SIGNATURE_HEADER),
                raw,
                [s.value for s in secrets],
                self.clock(),
                self.config.signature_tolerance_s,
            )
        except Unauthorized as exc:
            raise _unauthorized(exc) from None
        return secrets[matched], raw

    async def signature_or_token(
        self, request: Request, read_body: ReadBody
    ) -> tuple[Credential, bytes]:
        if request.headers.get(SIGNATURE_HEADER):
            return await self.signature(request, read_body)
        return await self.token(request, read_body)

    async def grafana_signature(
        self, request: Request, read_body: ReadBody
    ) -> tuple[Credential, bytes]:
        """Grafana's HMAC when a signature header is configured, else a token."""
        header = self.config.grafana_signature_header
        if not header:
            return await self.token(request, read_body)
        if not request.headers.get(header):
            raise _unauthorized(Unauthorized("missing_signature"))
        raw = await read_body()
        stamp_header = self.config.grafana_timestamp_header
        secrets = self.config.hmac_secrets
        try:
            matched = verify_grafana_signature(
                request.headers.get(header),
                request.headers.get(stamp_header) if stamp_header else None,
                raw,
                [s.value for s in secrets],
                self.clock(),
                self.config.signature_tolerance_s,
                timestamp_required=bool(stamp_header),
            )
        except Unauthorized as exc:
            raise _unauthorized(exc) from None
        return secrets[matched], raw

    async def pagerduty_signature(
        self, request: Request, read_body: ReadBody
    ) -> tuple[Credential, bytes]:
        """``v1=<hex>`` values, comma-separated (several while PagerDuty rotates its key),
        each HMAC-SHA256 of the raw body."""
        header = request.headers.get(PAGERDUTY_SIGNATURE_HEADER)
        return await self.body_signature(
            (header or "").split(","), "v1=", self.config.pagerduty_secrets, read_body
        )

    async def sentry_signature(
        self, request: Request, read_body: ReadBody
    ) -> tuple[Credential, bytes]:
        """Hex HMAC-SHA256 of the raw body with the integration's client secret."""
        header = request.headers.get(SENTRY_SIGNATURE_HEADER)
        return await self.body_signature([header or ""], "", self.config.sentry_secrets, read_body)

    async def body_signature(
        self, values: list[str], prefix: str, secrets: list[Credential], read_body: ReadBody
    ) -> tuple[Credential, bytes]:
        if not any(v.strip() for v in values):
            raise _unauthorized(Unauthorized("missing_signature"))
        raw = await read_body()
        try:
            matched = verify_body_signature(values, raw, [s.value for s in secrets], prefix)
        except Unauthorized as exc:
            raise _unauthorized(exc) from None
        return secrets[matched], raw

    def pagerduty_alerts(self, payload: Any, source: str, headers: Headers) -> list[Alert]:
        return [pagerduty_alert(payload, source, webhook_id(headers.get(WEBHOOK_ID_HEADER)))]

    def sentry_alerts(self, payload: Any, source: str, headers: Headers) -> list[Alert]:
        return [sentry_alert(payload, source, resource(headers.get(RESOURCE_HEADER)))]

    def opsgenie_alerts(self, payload: Any, source: str) -> list[Alert]:
        return [opsgenie_alert(payload, source, datetime.fromtimestamp(self.clock(), UTC))]

    def alertmanager_alerts(self, payload: Any, source: str) -> list[Alert]:
        return alertmanager_alerts(payload, source, self.limits)

    def grafana_alerts(self, payload: Any, source: str) -> list[Alert]:
        return grafana_alerts(payload, source, self.limits)

    def generic_alerts(self, payload: Any, source: str) -> list[Alert]:
        return [generic_alert(payload, datetime.fromtimestamp(self.clock(), UTC), source)]


def _single(parse: Callable[[Any, str], Alert]) -> Callable[[Any, str], list[Alert]]:
    return lambda payload, source: [parse(payload, source)]


def _headless(
    parse: Callable[[Any, str], list[Alert]],
) -> Callable[[Any, str, Headers], list[Alert]]:
    """A format whose alerts come from the payload alone."""
    return lambda payload, source, headers: parse(payload, source)
