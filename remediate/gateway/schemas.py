"""Response bodies and the request-body schemas published in the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from remediate.alerts import SentinelCheckResult, Severity
from remediate.gateway.formats import AlertmanagerGroup, GenericAlert
from remediate.gateway.sources.datadog import DatadogWebhook
from remediate.gateway.sources.opsgenie import OpsgenieWebhook
from remediate.gateway.sources.pagerduty import PagerDutyWebhook
from remediate.gateway.sources.sentry import IssueAlert, IssueChange, MetricAlert


class FieldProblem(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. alerts.0.startsAt")
    message: str


class ErrorBody(BaseModel):
    detail: str
    errors: list[FieldProblem] = Field(default_factory=list)


class AcceptedAlert(BaseModel):
    id: str
    fingerprint: str
    status: str
    service: str | None
    duplicate: bool = Field(description="True when this exact delivery was already recorded.")


class Accepted(BaseModel):
    accepted: int = Field(description="New alerts committed to the outbox.")
    duplicates: int = Field(description="Repeated deliveries acknowledged and ignored.")
    alerts: list[AcceptedAlert]
    ignored: str | None = Field(default=None, description="Why nothing was recorded, if so.")


class Health(BaseModel):
    status: str
    outbox: dict[str, int]
    prefect_reachable: bool | None
    delivering: bool = Field(
        default=True,
        description="Whether this gateway delivers its outbox (one of those sharing one does).",
    )


class SentinelClientPayload(SentinelCheckResult):
    """The ``client_payload`` Sentinel's webhook alerter sends."""

    alert_id: str | None = Field(default=None, max_length=200)
    severity: Severity | None = None
    source: str | None = Field(default=None, max_length=100)
    environment: str | None = Field(default=None, max_length=100)


class SentinelRepositoryDispatch(BaseModel):
    """GitHub ``repository_dispatch`` body as Sentinel sends it."""

    event_type: Literal["sentinel-alert"]
    client_payload: SentinelClientPayload


REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "SentinelCheckResult": SentinelCheckResult,
    "SentinelDispatch": SentinelRepositoryDispatch,
    "AlertmanagerWebhook": AlertmanagerGroup,
    "GrafanaWebhook": AlertmanagerGroup,
    "GenericAlert": GenericAlert,
    "PagerDutyWebhook": PagerDutyWebhook,
    "SentryIssueAlert": IssueAlert,
    "SentryMetricAlert": MetricAlert,
    "SentryIssueChange": IssueChange,
    "DatadogWebhook": DatadogWebhook,
    "OpsgenieWebhook": OpsgenieWebhook,
}


def component_schemas() -> dict[str, Any]:
    """Request models as OpenAPI components, nested models included."""
    found: dict[str, Any] = {}
    for name, model in REQUEST_MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for nested, nested_schema in schema.pop("$defs", {}).items():
            found.setdefault(nested, nested_schema)
        schema["title"] = name
        found[name] = schema
    return found


def body_of(*names: str) -> dict[str, Any]:
    refs = [{"$ref": f"#/components/schemas/{n}"} for n in names]
    schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
