"""Who may speak for which source: each HMAC secret and ingest token, with its scope.

A credential without a scope speaks only for the source of the endpoint it arrives on
(``ENDPOINT_SOURCES``) and can never claim another one in the payload. A scoped credential
(``name:secret@source1,source2/service1,service2``) speaks for exactly the listed sources,
and, when services are listed, only about those services.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, SecretStr

NAME = r"[A-Za-z0-9_.-]{1,100}"
_NAME = re.compile(rf"^{NAME}$")

ENDPOINT_SOURCES = {
    "sentinel": "veris-sentinel",
    "dispatch": "veris-sentinel",
    "alertmanager": "alertmanager",
    "grafana": "grafana",
    "generic": "generic",
    "pagerduty": "pagerduty",
    "sentry": "sentry",
    "datadog": "datadog",
    "opsgenie": "opsgenie",
}
"""The source an alert arriving on each intake format is from, unless a scoped credential
lets the payload name another."""


class CredentialError(ValueError):
    pass


class Credential(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=rf"^{NAME}$")
    secret: SecretStr
    sources: tuple[str, ...] = ()
    """Empty: only the source of the endpoint the request arrives on."""
    services: tuple[str, ...] = ()
    """Empty: any service."""

    @property
    def value(self) -> str:
        return self.secret.get_secret_value()

    def sources_on(self, endpoint_source: str) -> tuple[str, ...]:
        return self.sources or (endpoint_source,)

    def source_for(self, endpoint_source: str, claimed: str | None) -> str:
        """The source of an alert this credential sent; raises ``CredentialError`` when it
        may not speak for it."""
        allowed = self.sources_on(endpoint_source)
        source = claimed if claimed is not None else endpoint_source
        if source not in allowed:
            raise CredentialError(f"credential {self.name!r} may not speak for source {source!r}")
        return source

    def check_service(self, service: str | None) -> None:
        if self.services and service not in self.services:
            raise CredentialError(
                f"credential {self.name!r} may not speak for service {service or '(none)'!r}"
            )


def parse_credentials(value: str | None, kind: str) -> list[Credential]:
    """Either the plain comma-separated list of secrets (each unscoped, named
    ``<kind>-<n>``), or entries ``name:secret[@sources[/services]]`` separated by ``;`` or
    newlines, where sources and services are comma-separated."""
    text = (value or "").strip()
    if not text:
        return []
    if ";" not in text and "\n" not in text and "@" not in text:
        return legacy_credentials((s.strip() for s in text.split(",")), kind)
    entries = [e.strip() for e in re.split(r"[;\n]", text) if e.strip()]
    return [_entry(entry, kind, index) for index, entry in enumerate(entries, 1)]


def legacy_credentials(secrets: Iterable[str], kind: str) -> list[Credential]:
    return [
        Credential(name=f"{kind}-{index}", secret=SecretStr(secret))
        for index, secret in enumerate((s for s in secrets if s), 1)
    ]


def _entry(entry: str, kind: str, index: int) -> Credential:
    where = f"{kind} entry {index}"
    name, colon, rest = entry.partition(":")
    if not colon or not _NAME.match(name.strip()):
        raise CredentialError(f"{where}: expected name:secret[@sources[/services]]")
    secret, at, scope = rest.rpartition("@") if "@" in rest else (rest, "", "")
    if not secret.strip():
        raise CredentialError(f"{where} ({name}): empty secret")
    sources_text, _, services_text = scope.partition("/")
    sources = _names(sources_text, f"{where} ({name}) sources")
    services = _names(services_text, f"{where} ({name}) services")
    if at and not sources:
        raise CredentialError(f"{where} ({name}): '@' must be followed by at least one source")
    return Credential(
        name=name.strip(), secret=SecretStr(secret.strip()), sources=sources, services=services
    )


def _names(text: str, where: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise CredentialError(f"{where}: {bad[0]!r} is not a valid name")
    return names
