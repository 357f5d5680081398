"""The gateway's HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from remediate.alerts import Alert, NotAnAlert
from remediate.catalog import Catalog
from remediate.gateway.auth import (
    SIGNATURE_HEADER,
    Unauthorized,
    verify_grafana_signature,
    verify_signature,
    verify_token,
)
from remediate.gateway.config import GatewayConfig
from remediate.gateway.delivery import Deliverer, DeliveryPolicy
from remediate.gateway.fastpath import IntakeFastPath
from remediate.gateway.formats import (
    PayloadError,
    alertmanager_alerts,
    generic_alert,
    grafana_alerts,
    parse_json,
    sentinel_alert,
)
from remediate.gateway.metrics import GatewayMetrics
from remediate.gateway.notes import IssueNotes, catalog_redactor
from remediate.gateway.outbox import Entry, Outbox, open_outbox
from remediate.gateway.ratelimit import RateLimiter
from remediate.gateway.schemas import (
    Accepted,
    AcceptedAlert,
    ErrorBody,
    FieldProblem,
    Health,
    body_of,
    component_schemas,
)
from remediate.runs.api import PrefectAPI

log = logging.getLogger("remediate.gateway")


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


def _error(status: int, description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error(401, "Missing or invalid credentials."),
    403: _error(403, "Source address not allowed."),
    413: _error(413, "Body larger than the configured limit."),
    422: _error(422, "Malformed payload; each problem names its field."),
    429: _error(429, "Too many requests from this client; see Retry-After."),
}


class Gateway:
    def __init__(
        self,
        config: GatewayConfig,
        catalog: Catalog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.clock = clock
        self.freeze_gc = False
        self.metrics = GatewayMetrics()
        self.limiter = RateLimiter(config.rate_per_s, config.rate_burst)
        self.outbox: Outbox = open_outbox(config.outbox_url, config.sqlite_path)
        self.prefect = PrefectAPI(config.prefect_api_url)
        self.notes = IssueNotes(
            self.outbox,
            self.prefect,
            self.metrics,
            catalog,
            config.data_dir,
            retry_initial_s=config.retry_initial_s,
            retry_max_s=config.retry_max_s,
            clock=clock,
        )
        self.deliverer = Deliverer(
            self.outbox,
            self.prefect,
            self.metrics,
            DeliveryPolicy(
                max_new_per_minute=config.max_new_per_minute or catalog.gateway.max_new_per_minute,
                retry_initial_s=config.retry_initial_s,
                retry_max_s=config.retry_max_s,
                run_state_cache_s=config.run_state_cache_s,
                retention_s=config.retention_days * 86400,
                deployment=config.deployment,
                publish_interval_s=config.publish_interval_s,
                rules=catalog.gateway,
            ),
            clock=clock,
            redactor=catalog_redactor(catalog),
            notes_wake=self.notes.wake,
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        await self.outbox.open()
        tasks = {
            asyncio.create_task(self.deliverer.run_forever(), name="remediate-delivery"),
            asyncio.create_task(self.deliverer.publish_forever(), name="remediate-publish"),
            asyncio.create_task(self.notes.run_forever(), name="remediate-notes"),
        }
        if self.freeze_gc:
            # What exists once started lives as long as the process; kept out of the
            # collector, a full collection no longer pauses every request for ~100 ms.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            self.deliverer.stop()
            self.notes.stop()
            _, running = await asyncio.wait(tasks, timeout=15)
            for task in running:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deliverer.flush(), timeout=5)
            await self.prefect.aclose()
            await self.outbox.close()

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

    async def accept(self, fmt: str, alerts: list[Alert]) -> Accepted:
        now = self.clock()
        alerts = [self.catalog.attribute(a) for a in alerts]
        entries = [
            Entry(
                delivery_key=f"{a.occurrence_key}:{a.status.value}",
                fingerprint=a.fingerprint,
                status=a.status.value,
                alert_json=a.model_dump_json(),
                received_at=now,
            )
            for a in alerts
        ]
        fresh = await self.outbox.record(entries)
        self.deliverer.wake.set()
        new = sum(fresh)
        self.metrics.accepted.labels(fmt).inc(new)
        if len(fresh) - new:
            self.metrics.deduplicated.labels("delivery").inc(len(fresh) - new)
        for alert, is_new in zip(alerts, fresh, strict=True):
            log.debug("%s alert %s %s", fmt, alert.occurrence_key, "recorded" if is_new else "dup")
        return Accepted(
            accepted=new,
            duplicates=len(fresh) - new,
            alerts=[
                AcceptedAlert(
                    id=a.id,
                    fingerprint=a.fingerprint,
                    status=a.status.value,
                    service=a.service,
                    duplicate=not is_new,
                )
                for a, is_new in zip(alerts, fresh, strict=True)
            ],
        )

    def tokens(self, request: Request) -> None:
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


def _json(body: Accepted, status: int = 202) -> Response:
    return Response(body.model_dump_json(), status_code=status, media_type="application/json")


def _unauthorized(exc: Unauthorized) -> Refused:
    return Refused(
        401, f"auth_{exc.reason}", "authentication failed", headers={"WWW-Authenticate": "Bearer"}
    )


def _payload(exc: PayloadError) -> Refused:
    first = exc.problems[0][0] if exc.problems else "body"
    return Refused(422, "malformed", f"malformed payload at {first}", exc.problems)


def create_app(
    config: GatewayConfig, catalog: Catalog | None = None, clock: Callable[[], float] = time.time
) -> FastAPI:
    gateway = Gateway(config, catalog or Catalog(), clock)
    app = FastAPI(
        title="remediate intake gateway",
        version="1",
        description=(
            "Authenticated alert intake. Every accepted alert is committed to a durable "
            "outbox before the answer; remediation runs start asynchronously."
        ),
        lifespan=gateway.lifespan,
    )
    app.state.gateway = gateway

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        gateway.metrics.rejected.labels(exc.reason).inc()
        body = ErrorBody(
            detail=exc.detail,
            errors=[FieldProblem(field=f, message=m) for f, m in exc.problems[:50]],
        )
        return JSONResponse(body.model_dump(), status_code=exc.status, headers=exc.headers)

    accepted: dict[int | str, dict[str, Any]] = {
        202: {"model": Accepted, "description": "Recorded in the outbox."}
    }

    @app.post(
        "/v1/alerts/sentinel",
        status_code=202,
        response_model=Accepted,
        responses={
            **COMMON_ERRORS,
            200: {"model": Accepted, "description": "A passing check: nothing recorded."},
        },
        openapi_extra=body_of("SentinelCheckResult", "SentinelDispatch"),
        summary="A Sentinel CheckResult, signed with X-Remediate-Signature",
    )
    async def sentinel(request: Request) -> Response:
        gateway.guard(request, "sentinel")
        raw = await gateway.body(request)
        gateway.signature(request, raw)
        try:
            alert = sentinel_alert(parse_json(raw))
        except PayloadError as exc:
            raise _payload(exc) from None
        except NotAnAlert as exc:
            return _json(Accepted(accepted=0, duplicates=0, alerts=[], ignored=str(exc)), 200)
        return _json(await gateway.accept("sentinel", [alert]))

    @app.post(
        "/repos/{owner}/{repo}/dispatches",
        status_code=204,
        response_class=Response,
        responses={**COMMON_ERRORS, 204: {"description": "Recorded (or a passing check)."}},
        openapi_extra=body_of("SentinelDispatch"),
        summary="GitHub repository_dispatch compatible intake for Sentinel's webhook alerter",
    )
    async def dispatch(owner: str, repo: str, request: Request) -> Response:
        gateway.guard(request, "dispatch")
        raw = await gateway.body(request)
        gateway.tokens(request)
        try:
            alert = sentinel_alert(parse_json(raw))
        except PayloadError as exc:
            raise _payload(exc) from None
        except NotAnAlert:
            return Response(status_code=204)
        await gateway.accept("dispatch", [alert])
        return Response(status_code=204)

    @app.post(
        "/v1/alerts/alertmanager",
        status_code=202,
        response_model=Accepted,
        responses={**COMMON_ERRORS, **accepted},
        openapi_extra=body_of("AlertmanagerWebhook"),
        summary="Prometheus Alertmanager webhook (version 4), bearer or basic auth",
    )
    async def alertmanager(request: Request) -> Response:
        gateway.guard(request, "alertmanager")
        raw = await gateway.body(request)
        gateway.tokens(request)
        try:
            alerts = alertmanager_alerts(parse_json(raw))
        except PayloadError as exc:
            raise _payload(exc) from None
        return _json(await gateway.accept("alertmanager", alerts))

    @app.post(
        "/v1/alerts/grafana",
        status_code=202,
        response_model=Accepted,
        responses={**COMMON_ERRORS, **accepted},
        openapi_extra=body_of("GrafanaWebhook"),
        summary="Grafana webhook; HMAC when a signature header is configured, else a token",
    )
    async def grafana(request: Request) -> Response:
        gateway.guard(request, "grafana")
        raw = await gateway.body(request)
        header = config.grafana_signature_header
        if header:
            stamp_header = config.grafana_timestamp_header
            try:
                verify_grafana_signature(
                    request.headers.get(header),
                    request.headers.get(stamp_header) if stamp_header else None,
                    raw,
                    config.secrets,
                    gateway.clock(),
                    config.signature_tolerance_s,
                    timestamp_required=bool(stamp_header),
                )
            except Unauthorized as exc:
                raise _unauthorized(exc) from None
        else:
            gateway.tokens(request)
        try:
            alerts = grafana_alerts(parse_json(raw))
        except PayloadError as exc:
            raise _payload(exc) from None
        return _json(await gateway.accept("grafana", alerts))

    @app.post(
        "/v1/alerts/generic",
        status_code=202,
        response_model=Accepted,
        responses={**COMMON_ERRORS, **accepted},
        openapi_extra=body_of("GenericAlert"),
        summary="Any other sender: the GenericAlert shape, signed or with a bearer token",
    )
    async def generic(request: Request) -> Response:
        gateway.guard(request, "generic")
        raw = await gateway.body(request)
        if request.headers.get(SIGNATURE_HEADER):
            gateway.signature(request, raw)
        else:
            gateway.tokens(request)
        try:
            alert = generic_alert(parse_json(raw), datetime.fromtimestamp(gateway.clock(), UTC))
        except PayloadError as exc:
            raise _payload(exc) from None
        return _json(await gateway.accept("generic", [alert]))

    @app.get("/healthz", response_model=Health, summary="Liveness and outbox state")
    async def healthz() -> Health:
        counts = await gateway.outbox.counts()
        gateway.metrics.outbox_depth.set(counts["pending"])
        return Health(
            status="ok", outbox=counts, prefect_reachable=gateway.deliverer.prefect_reachable
        )

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
        summary="Prometheus metrics",
    )
    async def metrics() -> Response:
        counts = await gateway.outbox.counts()
        gateway.metrics.outbox_depth.set(counts["pending"])
        return Response(gateway.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                component_schemas()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(
        IntakeFastPath,
        handlers={
            "/v1/alerts/sentinel": sentinel,
            "/v1/alerts/alertmanager": alertmanager,
            "/v1/alerts/grafana": grafana,
            "/v1/alerts/generic": generic,
        },
        dispatch=dispatch,
        refused=Refused,
        on_refused=refused,
    )
    return app
