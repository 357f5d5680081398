"""``remediate up --profile scale``: the topology of ``topology.py`` on this machine.

PostgreSQL (``REMEDIATE_SCALE_DATABASE_URL``, a database created on first start) holds
Prefect's state and the gateways' shared outbox; Redis (``REMEDIATE_SCALE_REDIS_URL``)
carries Prefect's messaging, caches, ordering and leases.
"""

from __future__ import annotations

import asyncio
import functools
import subprocess
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from remediate.devstack import workers
from remediate.devstack.stack import (
    Component,
    Launch,
    StackConfig,
    StackError,
    answers_ok,
    demo_component,
)
from remediate.devstack.topology import Command, Topology, outbox_url
from remediate.runs.auth import SERVER_AUTH_ENV
from remediate.storage import load_asyncpg

DATABASE_ENV = "REMEDIATE_SCALE_DATABASE_URL"
REDIS_ENV = "REMEDIATE_SCALE_REDIS_URL"
API_PORTS_ENV = "REMEDIATE_SCALE_API_PORTS"
GATEWAY_PORTS_ENV = "REMEDIATE_SCALE_GATEWAY_PORTS"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/remediate_scale"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _ports(env: dict[str, str], name: str, default: str) -> tuple[int, ...]:
    text = env.get(name, default)
    try:
        ports = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise StackError(f"{name}: expected comma-separated ports, not {text!r}") from None
    if len(ports) < 2 or len(set(ports)) != len(ports):
        raise StackError(f"{name}: expected at least two distinct ports, not {text!r}")
    return ports


def topology_from_env(config: StackConfig, env: dict[str, str] | None = None) -> Topology:
    import os

    values = dict(os.environ) if env is None else env
    database_url = values.get(DATABASE_ENV, DEFAULT_DATABASE_URL)
    try:
        outbox_url(database_url)
    except ValueError as exc:
        raise StackError(f"{DATABASE_ENV}: {exc}") from None
    redis_url = values.get(REDIS_ENV, DEFAULT_REDIS_URL)
    if not redis_url.startswith(("redis://", "rediss://")):
        raise StackError(f"{REDIS_ENV}: expected a redis:// or rediss:// URL")
    second_gateway = config.gateway_port + 1
    return Topology(
        database_url=database_url,
        redis_url=redis_url,
        data_dir=config.data_dir,
        host=config.host,
        balancer_port=config.prefect_port,
        api_ports=_ports(values, API_PORTS_ENV, "4201,4202"),
        gateway_ports=_ports(values, GATEWAY_PORTS_ENV, f"{config.gateway_port},{second_gateway}"),
    )


def ensure_database(database_url: str) -> None:
    """Create the database of ``database_url`` on its server unless it exists."""
    parts = urlsplit(outbox_url(database_url))
    name = parts.path.lstrip("/")
    if not name or '"' in name:
        raise StackError(f"{DATABASE_ENV}: name a database (e.g. .../remediate_scale)")
    admin = urlunsplit(parts._replace(path="/postgres"))

    async def create() -> None:
        connection = await load_asyncpg().connect(admin, timeout=10)
        try:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    try:
        asyncio.run(create())
    except OSError as exc:
        raise StackError(f"PostgreSQL at {parts.hostname}:{parts.port}: {exc}") from None


def migrate(launch: Launch, command: Command, echo: Callable[[str], None]) -> None:
    echo("running database migrations (prefect server database upgrade -y)")
    log = launch.config.log(command.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        result = subprocess.run(
            command.local_argv(launch.python),
            env=launch.env | dict(command.env),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=600,
            check=False,
        )
    if result.returncode != 0:
        raise StackError(f"migrations failed ({result.returncode}); see {log}")


def _log_mentions(launch: Launch, name: str, text: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return text in launch.config.log(name).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return False

    return check


def components(launch: Launch, topology: Topology, echo: Callable[[str], None]) -> list[Component]:
    env, python = launch.env, launch.python

    def prepare() -> None:
        ensure_database(topology.database_url)
        migrate(launch, topology.migrate(), echo)

    result: list[Component] = []
    for number, (command, port) in enumerate(zip(topology.apis(), topology.api_ports, strict=True)):
        health = f"{topology.replica_url(port)}/health"
        result.append(
            Component(
                command.name,
                command.local_argv(python),
                answers_ok(health),
                180,
                env | dict(command.env) | {SERVER_AUTH_ENV: launch.credential},
                port_url=health,
                before=prepare if number == 0 else None,
                group="api",
            )
        )
    services = topology.services()
    result.append(
        Component(
            services.name,
            services.local_argv(python),
            _log_mentions(launch, services.name, "Starting services"),
            180,
            env | dict(services.env),
        )
    )
    balancer = topology.balancer()
    health = f"{topology.api_url}/health"
    result.append(
        Component(
            balancer.name, balancer.local_argv(python), answers_ok(health), 60, env, port_url=health
        )
    )
    result.append(demo_component(launch))
    for parent, number in zip(topology.warm_parents(), range(1, topology.workers + 1), strict=True):
        socket = topology.warm_socket(number)
        result.append(
            Component(
                parent.name,
                parent.local_argv(python),
                lambda socket=socket: workers.socket_ready(socket),  # type: ignore[misc]
                120,
                env,
                group="warm-parent",
            )
        )
    for number, worker in enumerate(topology.worker_commands(), 1):
        result.append(
            Component(
                worker.name,
                worker.local_argv(python),
                functools.partial(
                    workers.worker_polling, topology.api_url, launch.authorised, number
                ),
                120,
                env | launch.shared_keys | dict(worker.env),
                before=launch.register if number == 1 else None,
                group="worker",
            )
        )
    for gateway, port in zip(topology.gateways(), topology.gateway_ports, strict=True):
        health = f"{topology.gateway_url(port)}/healthz"
        result.append(
            Component(
                gateway.name,
                gateway.local_argv(python),
                answers_ok(health),
                60,
                env | launch.gateway_secrets | launch.shared_keys | dict(gateway.env),
                port_url=health,
                group="gateway",
            )
        )
    return result
