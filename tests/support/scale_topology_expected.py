"""What every deployment of the `scale` topology runs, read from the scale profile's own
topology (`remediate.devstack.topology`): infra/ (Compose, Helm values, Kubernetes
manifests) must repeat the commands and fixed settings that `remediate up --profile scale`
starts on this machine. Addresses and secrets differ per deployment: only their presence
is checked, where the deployment file itself sets them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from remediate.devstack.topology import Command, Topology


@dataclass(frozen=True)
class Role:
    argv: tuple[str, ...]
    """The command, without the interpreter prefix the local stack adds (`python -m`)."""
    env: dict[str, str] = field(default_factory=dict)
    """Settings with the value they must have."""
    env_names: frozenset[str] = frozenset()
    """Settings that must be given, whatever their value (addresses, secrets)."""


# Settings whose value is an address of this deployment, not part of the topology.
ADDRESSES = frozenset(
    {
        "PREFECT_API_DATABASE_CONNECTION_URL",
        "PREFECT_REDIS_MESSAGING_URL",
        "PREFECT_SERVER_DOCKET_URL",
        "PREFECT_UI_API_URL",
        "REMEDIATE_WARM_SOCKET",
        "REMEDIATE_OUTBOX_URL",
    }
)

_TOPOLOGY = Topology(
    database_url="postgresql://prefect@postgres:5432/prefect",
    redis_url="redis://redis:6379/0",
    data_dir=Path("/run/remediate"),
    host="0.0.0.0",
    api_ports=(4200,),
    gateway_ports=(8780,),
    workers=1,
)


def _role(command: Command, words: int, required: set[str]) -> Role:
    fixed = {k: v for k, v in command.env.items() if k not in ADDRESSES}
    return Role(command.argv[:words], fixed, frozenset(required))


EXPECTED_SCALE_TOPOLOGY: dict[str, Role] = {
    # The migration only needs the database; its other settings are the servers' shared ones.
    "migrate": Role(_TOPOLOGY.migrate().argv),
    "api": _role(
        _TOPOLOGY.apis()[0],
        len(_TOPOLOGY.apis()[0].argv),
        {"PREFECT_SERVER_DOCKET_URL", "PREFECT_SERVER_API_AUTH_STRING"},
    ),
    "services": _role(_TOPOLOGY.services(), 4, {"PREFECT_SERVER_DOCKET_URL"}),
    "warm_parent": _role(_TOPOLOGY.warm_parents()[0], 4, set()),
    "worker": _role(
        _TOPOLOGY.worker_commands()[0],
        len(_TOPOLOGY.worker_commands()[0].argv),
        {"REMEDIATE_WARM_SOCKET", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING"},
    ),
    "gateway": _role(
        _TOPOLOGY.gateways()[0],
        2,
        {"REMEDIATE_OUTBOX_URL", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING"},
    ),
}
