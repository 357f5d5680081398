"""What every deployment of the `scale` topology runs: the commands and settings that
`remediate up --profile scale` starts on this machine and that infra/ (Compose, Helm
values, Kubernetes manifests) must repeat.

EXPECTED_SCALE_TOPOLOGY stands in for the scale profile's topology module until it is
merged; tests/test_infra_files.py then reads that module instead of this constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from remediate.devstack import workers


@dataclass(frozen=True)
class Role:
    argv: tuple[str, ...]
    """The command, without the interpreter prefix the local stack adds (`python -m`)."""
    env: dict[str, str] = field(default_factory=dict)
    """Settings with the value they must have."""
    env_names: frozenset[str] = frozenset()
    """Settings that must be given, whatever their value (addresses, secrets)."""


PREFECT_REDIS_ENV = {
    "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
    "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
    "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
}

EXPECTED_SCALE_TOPOLOGY: dict[str, Role] = {
    "migrate": Role(("prefect", "server", "database", "upgrade", "-y")),
    "api": Role(
        ("prefect", "server", "start", "--host", "0.0.0.0", "--port", "4200", "--no-services"),
        PREFECT_REDIS_ENV | {"PREFECT_API_DATABASE_MIGRATE_ON_START": "false"},
        frozenset({"PREFECT_SERVER_DOCKET_URL", "PREFECT_SERVER_API_AUTH_STRING"}),
    ),
    "services": Role(
        ("prefect", "server", "services", "start"),
        PREFECT_REDIS_ENV,
        frozenset({"PREFECT_SERVER_DOCKET_URL"}),
    ),
    "warm_parent": Role(("python", "-m", "remediate.warm.parent", "--socket")),
    "worker": Role(
        ("prefect", *workers.worker_args()[3:]),
        {"PREFECT_WORKER_QUERY_SECONDS": workers.QUERY_SECONDS},
        frozenset({"REMEDIATE_WARM_SOCKET", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING"}),
    ),
    "gateway": Role(
        ("remediate", "gateway"),
        env_names=frozenset({"REMEDIATE_OUTBOX_URL", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING"}),
    ),
}
