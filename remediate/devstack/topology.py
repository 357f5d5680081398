"""The processes of the ``scale`` profile: each one's command line and settings, in one place.

``remediate up --profile scale`` starts exactly these commands; the deployment files under
``infra/`` carry the same ones. A command's first word is ``prefect``, ``remediate`` or
``python`` (a console script, or the interpreter); :meth:`Command.local_argv` turns it into
an argument vector for the interpreter running the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from remediate.devstack import workers

MIGRATE_ON_START_ENV = "PREFECT_API_DATABASE_MIGRATE_ON_START"
HEALTH_PATH = "/api/health"


def redis_settings(redis_url: str) -> dict[str, str]:
    """Prefect's messaging, event cache, causal ordering, concurrency leases and task
    scheduling (docket) on Redis through ``prefect-redis``: what several API processes
    need to share."""
    return {
        "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
        "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
        "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
        "PREFECT_REDIS_MESSAGING_URL": redis_url,
        "PREFECT_SERVER_DOCKET_URL": redis_url,
    }


def prefect_database_url(database_url: str) -> str:
    """The SQLAlchemy form of a ``postgresql://`` URL, as Prefect's server takes it."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ValueError(f"expected a postgresql:// URL, not {scheme or database_url!r}")
    return f"postgresql+asyncpg://{rest}"


def outbox_url(database_url: str) -> str:
    """The ``postgresql://`` URL the gateways' shared outbox takes."""
    return "postgresql://" + prefect_database_url(database_url).split("://", 1)[1]


@dataclass(frozen=True)
class Command:
    name: str
    role: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)

    def local_argv(self, python: str) -> list[str]:
        program, *rest = self.argv
        prefixes = {
            "prefect": [python, "-m", "prefect"],
            "remediate": [python, "-m", "remediate.cli"],
            "python": [python],
        }
        return [*prefixes[program], *rest]


@dataclass(frozen=True)
class Topology:
    """Two API processes behind one balancer, the background services apart, two workers
    each with its warm parent, two gateways sharing one PostgreSQL outbox."""

    database_url: str
    redis_url: str
    data_dir: Path
    host: str = "127.0.0.1"
    balancer_port: int = 4200
    api_ports: tuple[int, ...] = (4201, 4202)
    gateway_ports: tuple[int, ...] = (8780, 8781)
    workers: int = 2

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.balancer_port}/api"

    def replica_url(self, port: int) -> str:
        return f"http://{self.host}:{port}/api"

    def gateway_url(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def warm_socket(self, number: int) -> Path:
        return self.data_dir / f"warm-{number}.sock"

    def server_env(self) -> dict[str, str]:
        """What the migration, every API process and the background services share."""
        return {
            "PREFECT_API_DATABASE_CONNECTION_URL": prefect_database_url(self.database_url),
            **redis_settings(self.redis_url),
        }

    def migrate(self) -> Command:
        return Command(
            "prefect-migrate",
            "migrate",
            ("prefect", "server", "database", "upgrade", "-y"),
            self.server_env(),
        )

    def apis(self) -> list[Command]:
        return [
            Command(
                f"prefect-api-{number}",
                "api",
                (
                    "prefect",
                    "server",
                    "start",
                    "--host",
                    self.host,
                    "--port",
                    str(port),
                    "--no-services",
                ),
                self.server_env()
                | {MIGRATE_ON_START_ENV: "false", "PREFECT_UI_API_URL": self.api_url},
            )
            for number, port in enumerate(self.api_ports, 1)
        ]

    def services(self) -> Command:
        return Command(
            "prefect-services",
            "services",
            ("prefect", "server", "services", "start"),
            self.server_env() | {MIGRATE_ON_START_ENV: "false"},
        )

    def balancer(self) -> Command:
        upstreams = [
            arg for port in self.api_ports for arg in ("--upstream", f"{self.host}:{port}")
        ]
        return Command(
            "balancer",
            "balancer",
            (
                "python",
                "-m",
                "remediate.devstack.balancer",
                "--listen",
                f"{self.host}:{self.balancer_port}",
                *upstreams,
                "--health-path",
                HEALTH_PATH,
            ),
        )

    def warm_parents(self) -> list[Command]:
        return [
            Command(
                f"warm-parent-{number}",
                "warm-parent",
                (
                    "python",
                    "-m",
                    "remediate.warm.parent",
                    "--socket",
                    str(self.warm_socket(number)),
                ),
            )
            for number in range(1, self.workers + 1)
        ]

    def worker_commands(self) -> list[Command]:
        return [
            Command(
                f"worker-{number}",
                "worker",
                workers.worker_command(),
                workers.worker_settings(self.warm_socket(number)),
            )
            for number in range(1, self.workers + 1)
        ]

    def gateways(self) -> list[Command]:
        return [
            Command(
                f"gateway-{number}",
                "gateway",
                ("remediate", "gateway", "--host", self.host, "--port", str(port)),
                {"REMEDIATE_OUTBOX_URL": outbox_url(self.database_url)},
            )
            for number, port in enumerate(self.gateway_ports, 1)
        ]

    def commands(self) -> list[Command]:
        """Every command in start order (the migration first; it runs to completion)."""
        return [
            self.migrate(),
            *self.apis(),
            self.services(),
            self.balancer(),
            *self.warm_parents(),
            *self.worker_commands(),
            *self.gateways(),
        ]
