"""The catalog: which services are watched, how to probe them, and what each severity runs."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from remediate.actions.config import RunbookAction, check_service_actions, suggest
from remediate.alerts import Alert, Severity, describe_validation_error
from remediate.approval.config import ApprovalConfig
from remediate.bluegreen.config import BlueGreen, check_service_blue_green
from remediate.capacity.config import MetricSpec, check_service_metrics
from remediate.controls.config import ControlsConfig
from remediate.diagnosis.config import Dependency, DiagnosisConfig, JsonCheck, check_names
from remediate.diagnosis.findings import Finding
from remediate.evidence.config import EvidenceConfig, LogSource, SSHHost, check_service_evidence
from remediate.fixer.config import FixerConfig
from remediate.gateway.policy import GatewayPolicy
from remediate.investigation.config import InvestigationConfig
from remediate.notifications.config import NotificationsConfig
from remediate.redaction import Redactor
from remediate.rollback.config import ReleaseSource, check_service_releases

DEFAULT_CATALOG = Path("remediate.yaml")
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class CatalogError(Exception):
    """The catalog file cannot be used; the message names the file, key path and problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthEndpoint(_Strict):
    name: str = Field(default="health", pattern=NAME_PATTERN)
    url: HttpUrl
    expected_status: int = Field(default=200, ge=100, le=599)
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    json_checks: list[JsonCheck] = Field(default_factory=list)


class Repository(_Strict):
    owner: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    default_branch: str = Field(default="main", min_length=1, max_length=255)
    api_base_url: HttpUrl | None = Field(
        default=None, description="GitHub Enterprise API base, e.g. https://ghe.example/api/v3"
    )
    clone_url: str | None = Field(
        default=None,
        pattern=r"^(https?://|file:///|/)[^\s@]+$",
        description="Where to clone from; default https://github.com/{owner}/{name}.git",
    )

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def git_url(self) -> str:
        return self.clone_url or f"https://github.com/{self.owner}/{self.name}.git"


class Service(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    health: list[HealthEndpoint] = Field(default_factory=list)
    checks: list[str] = Field(
        default_factory=list,
        description="Check ids (shell-style wildcards allowed) of this service.",
    )
    repository: Repository | None = None
    hosts: list[SSHHost] = Field(default_factory=list, description="Machines to read logs on.")
    logs: list[LogSource] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list)
    metrics: list[MetricSpec] = Field(
        default_factory=list, description="Resource use sampled on the hosts and forecast."
    )
    actions: list[RunbookAction] = Field(
        default_factory=list, description="Runbook actions: SSH commands or HTTP calls."
    )
    releases: ReleaseSource | None = Field(
        default=None, description="How to read releases and roll back to the previous one."
    )
    blue_green: BlueGreen | None = Field(
        default=None, description="Which color is live and the action switching to each."
    )

    def suggested_action(
        self, check_id: str, findings: list[Finding] | None = None
    ) -> RunbookAction | None:
        suggestion = suggest(self.actions, check_id, findings or [])
        return suggestion.action if suggestion else None

    def action(self, name: str) -> RunbookAction | None:
        return next((a for a in self.actions if a.name == name), None)

    def metric(self, name: str) -> MetricSpec | None:
        return next((m for m in self.metrics if m.name == name), None)


class StepPolicy(_Strict):
    verify: bool = True
    diagnose: bool = True
    open_issue: bool = True
    collect_logs: bool = True
    propose_fix: bool = True
    run_actions: bool = True
    investigate: bool = Field(
        default=True, description="Run the model investigation (needs the model credential)."
    )
    open_issue_when_silenced: bool = Field(
        default=True,
        description="Whether an alert inside a maintenance window or silence still opens or "
        "updates its issue (it never starts an investigation, a fix proposal or an action).",
    )


class Verification(_Strict):
    attempts: int = Field(default=3, ge=1, le=20)
    interval_s: float = Field(default=5.0, ge=0, le=600)


class TrackerConfig(_Strict):
    kind: Literal["auto", "local", "github"] = Field(
        default="auto",
        description="auto: github when the service has a repository and a token is set, else local",
    )
    token_env: str = Field(default="GITHUB_TOKEN", pattern=r"^[A-Z_][A-Z0-9_]*$")
    token_block: str | None = Field(
        default=None, description="Name of a Prefect Secret block holding the token."
    )
    reopen_window_hours: float = Field(default=72.0, ge=0)


def _default_policy() -> dict[Severity, StepPolicy]:
    return {severity: StepPolicy() for severity in Severity}


class Catalog(_Strict):
    services: list[Service] = Field(default_factory=list)
    verification: Verification = Verification()
    policy: dict[Severity, StepPolicy] = Field(default_factory=_default_policy)
    tracker: TrackerConfig = TrackerConfig()
    gateway: GatewayPolicy = GatewayPolicy()
    evidence: EvidenceConfig = EvidenceConfig()
    diagnosis: DiagnosisConfig = DiagnosisConfig()
    fixer: FixerConfig = FixerConfig()
    investigation: InvestigationConfig = InvestigationConfig()
    approval: ApprovalConfig = ApprovalConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    controls: ControlsConfig = ControlsConfig()

    @model_validator(mode="after")
    def _maintenance_services(self) -> Self:
        known = {s.name for s in self.services}
        for window in self.controls.maintenance:
            unknown = [name for name in window.services if name not in known]
            if unknown:
                raise ValueError(
                    f"maintenance window {window.name!r} names unknown service(s): "
                    + ", ".join(unknown)
                )
        unknown = [name for name in self.controls.dry_run.services if name not in known]
        if unknown:
            raise ValueError("controls.dry_run names unknown service(s): " + ", ".join(unknown))
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        seen: set[str] = set()
        for service in self.services:
            if service.name in seen:
                raise ValueError(f"service name {service.name!r} appears twice")
            seen.add(service.name)
        return self

    @model_validator(mode="after")
    def _evidence_references(self) -> Self:
        for service in self.services:
            check_service_evidence(service.name, service.hosts, service.logs, self.evidence)
            check_names(service.name, service.dependencies)
            check_service_actions(service.name, [h.name for h in service.hosts], service.actions)
            check_service_releases(
                service.name,
                [h.name for h in service.hosts],
                service.actions,
                service.releases,
                has_repository=service.repository is not None,
            )
            check_service_blue_green(
                service.name,
                [h.name for h in service.hosts],
                service.actions,
                service.blue_green,
                has_releases=service.releases is not None,
                health=[h.name for h in service.health],
            )
            check_service_metrics(
                service.name,
                [h.name for h in service.hosts],
                service.metrics,
                self.evidence.commands,
                service.actions,
            )
        return self

    def service(self, name: str | None) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def service_for_check(self, check_id: str) -> Service | None:
        for service in self.services:
            if check_id in service.checks:
                return service
        for service in self.services:
            if any(fnmatch.fnmatchcase(check_id, pattern) for pattern in service.checks):
                return service
        return None

    def policy_for(self, severity: Severity) -> StepPolicy:
        return self.policy.get(severity, StepPolicy())

    def attribute(self, alert: Alert) -> Alert:
        """The alert with its service: its own, else the first service listing its check,
        else the catalog service its ``service`` label names."""
        if alert.service is not None:
            return alert
        service = self.service_for_check(alert.check_id)
        if service is None and alert.labels.get("service"):
            service = self.service(alert.labels["service"])
        return alert.with_service(service.name) if service is not None else alert

    def redactor(self) -> Redactor:
        """The built-in secret rules plus the catalog's ``evidence.redact`` patterns."""
        return Redactor((p.name, p.pattern) for p in self.evidence.redact)


def catalog_path(path: str | os.PathLike[str] | None = None) -> Path:
    if path is not None:
        return Path(path)
    return Path(os.environ.get("REMEDIATE_CATALOG", str(DEFAULT_CATALOG)))


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    file = catalog_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{file}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CatalogError(f"{file}: (top level): expected a mapping, got {type(data).__name__}")
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(exc, str(file))) from exc
