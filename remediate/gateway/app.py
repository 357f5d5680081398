"""The gateway's HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from remediate.alerts import Alert
from remediate.catalog import Catalog
from remediate.controls.store import SilenceStore, open_silences
from remediate.gateway.acknowledgements import AcknowledgementNotRecorded, record_acknowledgement
from remediate.gateway.approvals import add_approval_routes, add_github_route
from remediate.gateway.auth import Unauthorized, verify_token
from remediate.gateway.config import GatewayConfig
from remediate.gateway.credentials import Credential, CredentialError
from remediate.gateway.delivery import Deliverer, DeliveryPolicy
from remediate.gateway.fastpath import Handler, IntakeFastPath
from remediate.gateway.intake import Intake, IntakeFormat, Refused, not_permitted, over_limit
from remediate.gateway.issues import add_issue_pages
from remediate.gateway.limits import OverLimit
from remediate.gateway.metrics import GatewayMetrics
from remediate.gateway.notes import IssueNotes, catalog_redactor
from remediate.gateway.outbox import Entry, Outbox, OutboxUnavailable, State, open_outbox
from remediate.gateway.schemas import (
    Accepted,
    AcceptedAlert,
    ErrorBody,
    FieldProblem,
    Health,
    body_of,
    component_schemas,
)
from remediate.gateway.sources.common import Acknowledged
from remediate.runs.api import PrefectAPI
from remediate.trackers.local import LocalTracker

log = logging.getLogger("remediate.gateway")

Clock = Callable[[], float]

OUTBOX_RETRY_AFTER_S = 5
"""The ``Retry-After`` of a 503 answered while the outbox cannot commit."""


def _error(status: int, description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error(401, "Missing or invalid credentials."),
    403: _error(
        403, "Source address not allowed, or a source or service the credential may not speak for."
    ),
    413: _error(413, "Body, alert count or alert size over the configured limit (named)."),
    422: _error(422, "Malformed payload; each problem names its field."),
    429: _error(429, "Too many requests from this client; see Retry-After."),
    503: _error(
        503,
        "The outbox cannot commit (disk full, database down): nothing recorded; see Retry-After.",
    ),
}

RECORDED = {**COMMON_ERRORS, 202: {"model": Accepted, "description": "Recorded in the outbox."}}
PASSING = {
    **COMMON_ERRORS,
    200: {"model": Accepted, "description": "A passing check: nothing recorded."},
}


ANSWERED = {
    **RECORDED,
    200: {
        "model": Accepted,
        "description": "An event that starts and resolves nothing (named in `ignored`).",
    },
}


def _header(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "schema": {"type": "string"},
        "description": description,
    }


@dataclass(frozen=True)
class JsonIntake:
    """An intake route that answers with ``Accepted``."""

    path: str
    format: str
    responses: dict[int | str, dict[str, Any]]
    bodies: tuple[str, ...]
    summary: str
    headers: tuple[dict[str, Any], ...] = ()


JSON_INTAKES = (
    JsonIntake(
        "/v1/alerts/sentinel",
        "sentinel",
        PASSING,
        ("SentinelCheckResult", "SentinelDispatch"),
        "A Sentinel CheckResult, signed with X-Remediate-Signature",
    ),
    JsonIntake(
        "/v1/alerts/alertmanager",
        "alertmanager",
        RECORDED,
        ("AlertmanagerWebhook",),
        "Prometheus Alertmanager webhook (version 4), bearer or basic auth",
    ),
    JsonIntake(
        "/v1/alerts/grafana",
        "grafana",
        RECORDED,
        ("GrafanaWebhook",),
        "Grafana webhook; HMAC when a signature header is configured, else a token",
    ),
    JsonIntake(
        "/v1/alerts/generic",
        "generic",
        RECORDED,
        ("GenericAlert",),
        "Any other sender: the GenericAlert shape, signed or with a bearer token",
    ),
    JsonIntake(
        "/v1/alerts/pagerduty",
        "pagerduty",
        {
            **ANSWERED,
            503: _error(503, "An acknowledgement not yet recorded on its run: send it again."),
        },
        ("PagerDutyWebhook",),
        "PagerDuty v3 webhook, signed with X-PagerDuty-Signature",
        (
            _header("X-PagerDuty-Signature", "v1=<hex HMAC-SHA256 of the body>[,v1=...]"),
            _header("X-Webhook-Id", "PagerDuty's delivery id, the same on every retry"),
        ),
    ),
    JsonIntake(
        "/v1/alerts/sentry",
        "sentry",
        ANSWERED,
        ("SentryIssueAlert", "SentryMetricAlert", "SentryIssueChange"),
        "Sentry integration webhook, signed with Sentry-Hook-Signature",
        (
            _header("Sentry-Hook-Signature", "hex HMAC-SHA256 of the body, client secret"),
            _header("Sentry-Hook-Resource", "event_alert, metric_alert, issue, ...", True),
        ),
    ),
    JsonIntake(
        "/v1/alerts/datadog",
        "datadog",
        RECORDED,
        ("DatadogWebhook",),
        "Datadog webhook with the documented payload template, bearer token",
    ),
    JsonIntake(
        "/v1/alerts/opsgenie",
        "opsgenie",
        ANSWERED,
        ("OpsgenieWebhook",),
        "Opsgenie outgoing webhook (legacy product), bearer token",
    ),
)


class Gateway:
    def __init__(self, config: GatewayConfig, catalog: Catalog, clock: Clock = time.time) -> None:
        self.config = config
        self.catalog = catalog
        self.clock = clock
        self.freeze_gc = False
        self.background: set[asyncio.Task[None]] = set()
        """Work that outlives its request (a Slack decision past its answer)."""
        self.metrics = GatewayMetrics()
        self.outbox: Outbox = open_outbox(config.outbox_url, config.sqlite_path)
        self.silences: SilenceStore = open_silences(config.outbox_url, config.sqlite_path)
        self.prefect = PrefectAPI(config.prefect_api_url)
        self.intake = Intake(config, self.metrics, self.accept, self.acknowledge, clock)
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
                controls=catalog.controls,
            ),
            clock=clock,
            redactor=catalog_redactor(catalog),
            notes_wake=self.notes.wake,
            silences=self.silences,
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        await self.outbox.open()
        await self.silences.open()
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
            _, running = await asyncio.wait(tasks | self.background, timeout=15)
            for task in running:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.deliverer.flush(), timeout=5)
            await self.prefect.aclose()
            await self.outbox.close()
            await self.silences.close()

    async def acknowledge(self, ack: Acknowledged) -> str:
        try:
            said = await record_acknowledgement(
                ack, self.outbox, self.prefect, self.catalog, self.clock()
            )
        except AcknowledgementNotRecorded:
            raise Refused(
                503, "prefect_unavailable", "the acknowledgement could not be recorded; retry"
            ) from None
        self.notes.wake.set()
        return said

    async def accept(self, fmt: str, credential: Credential, alerts: list[Alert]) -> Accepted:
        now = self.clock()
        alerts = [self.catalog.attribute(a) for a in alerts]
        stored = [a.model_dump_json() for a in alerts]
        try:
            for alert in alerts:
                credential.check_service(alert.service)
            self.intake.limits.check_sizes([len(text.encode()) for text in stored])
        except CredentialError as exc:
            raise not_permitted(exc) from None
        except OverLimit as exc:
            raise over_limit(exc) from None
        entries = [
            Entry(
                delivery_key=a.delivery_key(),
                fingerprint=a.problem_key,
                status=a.status.value,
                alert_json=text,
                received_at=now,
            )
            for a, text in zip(alerts, stored, strict=True)
        ]
        try:
            fresh = await self.outbox.record(entries)
        except OutboxUnavailable:
            raise Refused(
                503,
                "outbox_unavailable",
                "the alert could not be recorded (outbox unavailable); nothing was accepted,"
                " send it again",
                headers={"Retry-After": str(OUTBOX_RETRY_AFTER_S)},
            ) from None
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


def create_app(
    config: GatewayConfig, catalog: Catalog | None = None, clock: Clock = time.time
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
    add_approval_routes(app, gateway)
    add_github_route(app, gateway)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        gateway.metrics.rejected.labels(exc.reason).inc()
        body = ErrorBody(
            detail=exc.detail,
            errors=[FieldProblem(field=f, message=m) for f, m in exc.problems[:50]],
        )
        return JSONResponse(body.model_dump(), status_code=exc.status, headers=exc.headers)

    intake = gateway.intake
    handlers = {r.path: _endpoint(intake, intake.formats[r.format]) for r in JSON_INTAKES}
    for route in JSON_INTAKES:
        app.add_api_route(
            route.path,
            handlers[route.path],
            methods=["POST"],
            name=route.format,
            status_code=202,
            response_model=Accepted,
            responses=route.responses,
            openapi_extra=body_of(*route.bodies)
            | ({"parameters": list(route.headers)} if route.headers else {}),
            summary=route.summary,
        )

    @app.post(
        "/repos/{owner}/{repo}/dispatches",
        status_code=204,
        response_class=Response,
        responses={**COMMON_ERRORS, 204: {"description": "Recorded (or a passing check)."}},
        openapi_extra=body_of("SentinelDispatch"),
        summary="GitHub repository_dispatch compatible intake for Sentinel's webhook alerter",
    )
    async def dispatch(owner: str, repo: str, request: Request) -> Response:
        return await intake.handle(request, intake.formats["dispatch"])

    add_issue_pages(app, LocalTracker(config.data_dir / "issues"), config.issues_credential)

    @app.get(
        "/healthz",
        response_model=Health,
        responses={503: _error(503, "The outbox cannot be read (database down).")},
        summary="Liveness and outbox state",
    )
    async def healthz() -> Health:
        try:
            counts = await gateway.outbox.counts()
        except gateway.outbox.unavailable as exc:
            log.warning("outbox unreadable; /healthz answers 503: %s", exc)
            raise Refused(
                503,
                "outbox_unavailable",
                f"outbox unavailable: {type(exc).__name__}",
                headers={"Retry-After": str(OUTBOX_RETRY_AFTER_S)},
            ) from None
        gateway.metrics.outbox_depth.set(counts[State.PENDING])
        return Health(
            status="ok",
            outbox=counts,
            prefect_reachable=gateway.deliverer.prefect_reachable,
            delivering=gateway.outbox.leading,
        )

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
        summary="Prometheus metrics; a bearer token when REMEDIATE_METRICS_TOKEN is set",
    )
    async def metrics(request: Request) -> Response:
        if config.metrics_token is not None and not _metrics_token_ok(
            request.headers.get("authorization"), config.metrics_token.get_secret_value()
        ):
            raise Refused(
                401, "metrics_auth", "authentication failed", headers={"WWW-Authenticate": "Bearer"}
            )
        counts = await gateway.outbox.counts()
        gateway.metrics.outbox_depth.set(counts[State.PENDING])
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
        handlers=handlers,
        dispatch=_endpoint(intake, intake.formats["dispatch"]),
        refused=Refused,
        on_refused=refused,
    )
    return app


def _metrics_token_ok(authorization: str | None, token: str) -> bool:
    try:
        verify_token(authorization, [token])
    except Unauthorized:
        return False
    return True


def _endpoint(intake: Intake, fmt: IntakeFormat) -> Handler:
    async def endpoint(request: Request) -> Response:
        return await intake.handle(request, fmt)

    return endpoint
