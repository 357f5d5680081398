"""Gateway settings from the environment; secrets are kept as ``SecretStr``."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from remediate.gateway.credentials import Credential, legacy_credentials, parse_credentials
from remediate.runs.tags import DEPLOYMENT

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


SOURCE_CREDENTIALS = {
    "pagerduty_secrets": ("REMEDIATE_PAGERDUTY_SECRETS", "pagerduty"),
    "sentry_secrets": ("REMEDIATE_SENTRY_SECRETS", "sentry"),
    "datadog_tokens": ("REMEDIATE_DATADOG_TOKENS", "datadog"),
    "opsgenie_tokens": ("REMEDIATE_OPSGENIE_TOKENS", "opsgenie"),
}
"""Each product's credentials: the variable they are read from and the one source they
speak for (unscoped, or scoped to that source and optionally to services)."""
SOURCE_CREDENTIAL_KINDS = {
    field: (variable, f"{source}-{'secret' if field.endswith('secrets') else 'token'}")
    for field, (variable, source) in SOURCE_CREDENTIALS.items()
}


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


OUTBOX_FILE = "gateway-outbox.sqlite3"


class GatewayConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    hmac_secrets: list[Credential] = Field(default_factory=list)
    ingest_tokens: list[Credential] = Field(default_factory=list)
    pagerduty_secrets: list[Credential] = Field(
        default_factory=list, description="PagerDuty webhook subscriptions' signing secrets."
    )
    sentry_secrets: list[Credential] = Field(
        default_factory=list, description="Sentry integrations' client secrets."
    )
    datadog_tokens: list[Credential] = Field(default_factory=list)
    opsgenie_tokens: list[Credential] = Field(default_factory=list)
    metrics_token: SecretStr | None = None
    issues_credential: SecretStr | None = Field(
        default=None,
        description="user:password readers of /issues/{n} give (HTTP Basic); none: pages off.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses whose X-Forwarded-For is believed; empty: none is.",
    )
    data_dir: Path = Path(".remediate")
    outbox_url: str | None = None
    prefect_api_url: str = "http://127.0.0.1:4200/api"
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_alerts_per_request: int = Field(default=100, ge=1, le=1000)
    max_alert_bytes: int = Field(default=65_536, ge=1024)
    max_request_alert_bytes: int = Field(
        default=2_097_152, ge=1024, description="All alerts of one request, as stored."
    )
    rate_per_s: float = Field(default=200.0, ge=0, description="0 disables the rate limit")
    rate_burst: int = Field(default=2000, ge=1)
    allow_cidrs: list[IPNetwork] = Field(default_factory=list)
    signature_tolerance_s: float = Field(default=300.0, gt=0)
    grafana_signature_header: str | None = None
    grafana_timestamp_header: str | None = None
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    run_state_cache_s: float = Field(default=2.0, ge=0)
    publish_interval_s: float = Field(default=5.0, ge=0)
    retention_days: float = Field(default=7.0, gt=0)
    max_new_per_minute: int | None = Field(
        default=None, ge=1, description="Overrides the catalog's gateway.max_new_per_minute."
    )
    deployment: str = Field(default=DEPLOYMENT, pattern=r"^[^/]+/[^/]+$")
    slack_signing_secret: SecretStr | None = None
    slack_response_url_prefix: str = Field(
        default="https://hooks.slack.com/",
        description="Decisions are posted back only to a response_url under this prefix.",
    )
    slack_answer_within_s: float = Field(
        default=2.0,
        ge=0,
        description=(
            "Slack wants an answer to a button press within 3 s: a decision still under way"
            " after this long is finished after the answer, its outcome posted to the"
            " message's response_url."
        ),
    )
    github_webhook_secret: SecretStr | None = None
    decision_key: SecretStr | None = Field(
        default=None, description="REMEDIATE_DECISION_KEY, shared with the workers."
    )

    @field_validator("hmac_secrets", "ingest_tokens", *SOURCE_CREDENTIALS, mode="before")
    @classmethod
    def _plain_secrets(cls, value: object) -> object:
        """Plain strings are unscoped credentials, as the comma-separated variables were."""
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return legacy_credentials(value, "credential")
        return value

    @model_validator(mode="after")
    def _bound_to_their_source(self) -> Self:
        """A product's credential speaks for that product only."""
        for field, (variable, source) in SOURCE_CREDENTIALS.items():
            for credential in getattr(self, field):
                if credential.sources and credential.sources != (source,):
                    raise ValueError(
                        f"{variable}: credential {credential.name!r} may only name source"
                        f" {source!r}"
                    )
        return self

    @property
    def has_source_credentials(self) -> bool:
        return any(getattr(self, field) for field in SOURCE_CREDENTIALS)

    @property
    def secrets(self) -> list[str]:
        return [c.value for c in self.hmac_secrets]

    @property
    def tokens(self) -> list[str]:
        return [c.value for c in self.ingest_tokens]

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / OUTBOX_FILE

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, overrides: Mapping[str, object] | None = None
    ) -> GatewayConfig:
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "hmac_secrets": parse_credentials(env.get("REMEDIATE_HMAC_SECRETS"), "secret"),
            "ingest_tokens": parse_credentials(env.get("REMEDIATE_INGEST_TOKENS"), "token"),
            **{
                field: parse_credentials(env.get(variable), kind)
                for field, (variable, kind) in SOURCE_CREDENTIAL_KINDS.items()
            },
            "trusted_proxies": _split(env.get("REMEDIATE_TRUSTED_PROXIES")),
            "allow_cidrs": [
                ipaddress.ip_network(c, strict=False)
                for c in _split(env.get("REMEDIATE_GATEWAY_ALLOW_CIDRS"))
            ],
        }
        simple = {
            "data_dir": "REMEDIATE_DATA_DIR",
            "outbox_url": "REMEDIATE_OUTBOX_URL",
            "prefect_api_url": "PREFECT_API_URL",
            "max_body_bytes": "REMEDIATE_GATEWAY_MAX_BODY_BYTES",
            "max_alerts_per_request": "REMEDIATE_GATEWAY_MAX_ALERTS_PER_REQUEST",
            "max_alert_bytes": "REMEDIATE_GATEWAY_MAX_ALERT_BYTES",
            "max_request_alert_bytes": "REMEDIATE_GATEWAY_MAX_REQUEST_ALERT_BYTES",
            "metrics_token": "REMEDIATE_METRICS_TOKEN",
            "issues_credential": "PREFECT_API_AUTH_STRING",
            "rate_per_s": "REMEDIATE_GATEWAY_RATE_LIMIT",
            "rate_burst": "REMEDIATE_GATEWAY_RATE_BURST",
            "grafana_signature_header": "REMEDIATE_GRAFANA_SIGNATURE_HEADER",
            "grafana_timestamp_header": "REMEDIATE_GRAFANA_TIMESTAMP_HEADER",
            "retry_max_s": "REMEDIATE_GATEWAY_RETRY_MAX_S",
            "max_new_per_minute": "REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE",
            "deployment": "REMEDIATE_GATEWAY_DEPLOYMENT",
            "slack_signing_secret": "REMEDIATE_SLACK_SIGNING_SECRET",
            "slack_response_url_prefix": "REMEDIATE_SLACK_RESPONSE_URL_PREFIX",
            "slack_answer_within_s": "REMEDIATE_SLACK_ANSWER_WITHIN_S",
            "decision_key": "REMEDIATE_DECISION_KEY",
            "github_webhook_secret": "REMEDIATE_GITHUB_WEBHOOK_SECRET",
        }
        for field, name in simple.items():
            if env.get(name):
                values[field] = env[name]
        values.update(overrides or {})
        return cls.model_validate(values)
