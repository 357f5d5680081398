"""Which alerts belong to one incident across services, and why (no I/O here).

Two alerts of different fingerprints correlate when they started within the window of each
other and either their services share a catalog dependency (same name, or same host and
port) or a correlation rule's labels are present and equal on both."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from remediate.alerts import Alert
from remediate.controls.config import Incidents
from remediate.diagnosis.config import Dependency


class Basis(StrEnum):
    """Values of the ``correlated-by:`` tag's first part."""

    DEPENDENCY = "dependency"
    RULE = "rule"


@dataclass(frozen=True)
class Correlation:
    basis: Basis
    name: str
    """The shared dependency's name, or the rule's."""
    text: str
    """The explanation for the issue (plain text: whoever publishes it escapes it)."""

    @property
    def tag_value(self) -> str:
        return f"{self.basis.value}.{self.name}"


@dataclass(frozen=True)
class Party:
    """One side of a correlation: the alert, its catalog service and its dependencies."""

    alert: Alert
    dependencies: tuple[Dependency, ...] = ()


def _same(a: Dependency, b: Dependency) -> bool:
    return a.name == b.name or (a.host.lower(), a.port) == (b.host.lower(), b.port)


def shared_dependency(first: Party, second: Party) -> tuple[Dependency, Dependency] | None:
    for mine in first.dependencies:
        for theirs in second.dependencies:
            if _same(mine, theirs):
                return mine, theirs
    return None


def within_window(first: Alert, second: Alert, config: Incidents) -> bool:
    return abs((first.fired_at - second.fired_at).total_seconds()) <= config.window_s


def correlate(lead: Party, other: Party, config: Incidents) -> Correlation | None:
    """Why ``other`` joins ``lead``'s incident, or None when it does not."""
    a, b = lead.alert, other.alert
    if a.fingerprint == b.fingerprint or not within_window(a, b, config):
        return None
    apart = abs((a.fired_at - b.fired_at).total_seconds())
    started = f"the alerts started {apart:g} s apart (window {config.window_s:g} s)"
    if config.dependencies:
        shared = shared_dependency(lead, other)
        if shared is not None:
            mine, theirs = shared
            same = "the same name" if mine.name == theirs.name else "the same address"
            return Correlation(
                Basis.DEPENDENCY,
                mine.name,
                f"services {a.service} and {b.service} share the catalog dependency"
                f" {mine.name} ({mine.host}:{mine.port}"
                + (f", {theirs.name} in {b.service}, {same}" if mine.name != theirs.name else "")
                + f"); {started}",
            )
    for rule in config.rules:
        values = [(name, a.labels.get(name), b.labels.get(name)) for name in rule.labels]
        if all(mine is not None and mine == theirs for _, mine, theirs in values):
            equal = ", ".join(f"{name}={mine}" for name, mine, _ in values)
            return Correlation(
                Basis.RULE,
                rule.name,
                f"correlation rule {rule.name}: both alerts carry {equal}; {started}",
            )
    return None


def partners(service: str | None, services: dict[str, tuple[Dependency, ...]]) -> set[str]:
    """The other catalog services that share a dependency with ``service``: the lead holds
    its fix proposal until each of them has joined, or the window has passed."""
    mine = services.get(service or "")
    if not mine:
        return set()
    return {
        name
        for name, theirs in services.items()
        if name != service and any(_same(a, b) for a in mine for b in theirs)
    }
