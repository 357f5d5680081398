"""The local stack behind ``make up``: Prefect server, demo service, warm parent, a process
worker on the ``remediate`` pool and the gateway, by pid.

The Prefect API asks for a basic-auth credential (``PREFECT_API_AUTH_STRING``, generated
into ``secrets.env`` unless set in the environment); every component gets it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import BaseModel, Field

from remediate.devstack import workers
from remediate.gateway.config import SOURCE_CREDENTIALS
from remediate.runs.auth import (
    CLIENT_AUTH_ENV,
    SERVER_AUTH_ENV,
    APIAuthError,
    auth_headers,
    auth_string,
    check_auth_string,
)

ROOT = Path(__file__).resolve().parent.parent.parent
STACK_FILE = "stack.json"
SECRETS_FILE = "secrets.env"
GATEWAY_SECRET_NAMES = (
    "REMEDIATE_HMAC_SECRETS",
    "REMEDIATE_INGEST_TOKENS",
    *(variable for variable, _ in SOURCE_CREDENTIALS.values()),
)
"""The gateway's shared secret and token, and each product's own (docs/sources.md)."""
MARKER_KEY = "REMEDIATE_MARKER_KEY"
DECISION_KEY = "REMEDIATE_DECISION_KEY"
SECRET_NAMES = (*GATEWAY_SECRET_NAMES, CLIENT_AUTH_ENV, MARKER_KEY, DECISION_KEY)
API_USER = "remediate"
# Prefect's own variable: a PostgreSQL URL here keeps the stack's server answering under an
# alert storm, where SQLite answers 503 while its database is locked.
DATABASE_URL_ENV = "PREFECT_API_DATABASE_CONNECTION_URL"


class StackError(Exception):
    pass


PROFILES = ("local", "scale")


class StackState(BaseModel):
    profile: str = "local"
    prefect_api_url: str
    ui_url: str
    demo_url: str
    gateway_url: str | None = None
    api_credentials: str | None = None
    data_dir: str
    catalog: str
    pids: dict[str, int] = Field(default_factory=dict)
    logs: dict[str, str] = Field(default_factory=dict)
    # The scale profile: every gateway (``gateway_url`` is the first) and every API process
    # behind ``prefect_api_url``.
    gateway_urls: list[str] = Field(default_factory=list)
    api_urls: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    catalog: Path
    prefect_port: int = 4200
    demo_port: int = 8787
    gateway_port: int = 8780
    host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> StackConfig:
        data_dir = Path(os.environ.get("REMEDIATE_DATA_DIR", str(ROOT / ".remediate"))).resolve()
        catalog = Path(os.environ.get("REMEDIATE_CATALOG", str(ROOT / "remediate.yaml"))).resolve()
        return cls(
            data_dir=data_dir,
            catalog=catalog,
            prefect_port=int(os.environ.get("REMEDIATE_PREFECT_PORT", "4200")),
            demo_port=int(os.environ.get("REMEDIATE_DEMO_PORT", "8787")),
            gateway_port=int(os.environ.get("REMEDIATE_GATEWAY_PORT", "8780")),
        )

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}"

    @property
    def demo_url(self) -> str:
        return f"http://{self.host}:{self.demo_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / SECRETS_FILE

    @property
    def state_file(self) -> Path:
        return self.data_dir / STACK_FILE

    @property
    def warm_socket(self) -> Path:
        return self.data_dir / "warm.sock"

    def log(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"


def read_state(data_dir: Path) -> StackState | None:
    path = data_dir / STACK_FILE
    if not path.exists():
        return None
    return StackState.model_validate_json(path.read_text(encoding="utf-8"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def answers_ok(url: str, headers: dict[str, str] | None = None) -> Callable[[], bool]:
    def check() -> bool:
        try:
            answer = httpx.get(url, timeout=2, trust_env=False, headers=headers)
            return answer.status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            args,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        )


@dataclass(frozen=True)
class Component:
    name: str
    args: list[str]
    ready: Callable[[], bool]
    timeout: float
    env: dict[str, str]
    port_url: str | None = None
    before: Callable[[], None] | None = None  # runs on every `up`, started or not
    group: str | None = None  # consecutive components of a group start at once


def _launch(
    component: Component, log: Path, echo: Callable[[str], None]
) -> subprocess.Popen[bytes]:
    if component.port_url and answers_ok(component.port_url)():
        raise StackError(
            f"{component.port_url} already answers, but not from this stack's {component.name}; "
            "stop what holds the port or choose another (REMEDIATE_*_PORT)"
        )
    echo(f"starting {component.name}")
    return _spawn(component.args, component.env, log)


def _await_ready(component: Component, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``component`` is ready; a process that exits fails at once."""
    deadline = time.monotonic() + component.timeout
    while not component.ready():
        if process.poll() is not None:
            raise StackError(f"{component.name} exited with {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            _terminate(process.pid)
            raise StackError(f"{component.name} not ready in {component.timeout:.0f} s; see {log}")
        time.sleep(0.2)


def _groups(components: list[Component]) -> list[list[Component]]:
    """Consecutive components of one ``group`` together; the others one by one."""
    groups: list[list[Component]] = []
    for component in components:
        if groups and component.group is not None and groups[-1][-1].group == component.group:
            groups[-1].append(component)
        else:
            groups.append([component])
    return groups


def _env(config: StackConfig, credential: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*SECRET_NAMES, SERVER_AUTH_ENV)}
    env.update(
        {
            CLIENT_AUTH_ENV: credential,
            "PREFECT_API_URL": config.api_url,
            "PREFECT_UI_URL": config.ui_url,
            "PREFECT_UI_API_URL": config.api_url,
            "PREFECT_HOME": str(config.data_dir / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_DATABASE_CONNECTION_URL": (
                os.environ.get(DATABASE_URL_ENV)
                or f"sqlite+aiosqlite:///{config.data_dir / 'prefect' / 'prefect.db'}"
            ),
            "REMEDIATE_DATA_DIR": str(config.data_dir),
            "REMEDIATE_ISSUES_URL": f"{config.gateway_url}/issues",
            "REMEDIATE_CATALOG": str(config.catalog),
            "REMEDIATE_HOME": str(ROOT),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def read_secrets(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in SECRET_NAMES:
                values[key.strip()] = value.strip()
    return values


def _generated(name: str) -> str:
    if name == CLIENT_AUTH_ENV:
        return f"{API_USER}:{secrets.token_urlsafe(32)}"
    return secrets.token_hex(32)


def ensure_dev_secrets(path: Path) -> dict[str, str]:
    """The gateway's secrets and tokens (its own and each product's), the Prefect API
    credential, the trackers' marker key and the decision key shared by the gateway and
    the workers: from the environment,
    else from ``secrets.env``, generated there (mode 0600) on first start."""
    stored = read_secrets(path)
    missing = [n for n in SECRET_NAMES if not os.environ.get(n) and not stored.get(n)]
    if missing:
        stored |= {name: _generated(name) for name in missing}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(f"{name}={value}\n" for name, value in stored.items())
        os.chmod(path, 0o600)
    values = {name: os.environ.get(name) or stored[name] for name in SECRET_NAMES}
    where = "environment" if os.environ.get(CLIENT_AUTH_ENV) else str(path)
    try:
        check_auth_string(values[CLIENT_AUTH_ENV], f"{CLIENT_AUTH_ENV} ({where})")
    except APIAuthError as exc:
        raise StackError(str(exc)) from None
    return values


def credentials_location(config: StackConfig) -> str:
    """Where the Prefect API credential of the stack is, without the credential."""
    if os.environ.get(CLIENT_AUTH_ENV):
        return f"{CLIENT_AUTH_ENV} from the environment of `remediate up`"
    return f"{CLIENT_AUTH_ENV} in {config.secrets_file}"


@dataclass(frozen=True)
class ClientAPI:
    url: str
    credential: str | None


def client_api() -> ClientAPI | None:
    """The API a command talks to: ``PREFECT_API_URL`` (else the local stack's) with
    ``PREFECT_API_AUTH_STRING`` (else the local stack's credential, sent only to the local
    stack's own API). ``None`` without either URL."""
    config = StackConfig.from_env()
    state = read_state(config.data_dir)
    url = os.environ.get("PREFECT_API_URL") or (state.prefect_api_url if state else None)
    if url is None:
        return None
    credential = auth_string()
    if credential is None and state is not None and url.rstrip("/") == state.prefect_api_url:
        credential = read_secrets(config.secrets_file).get(CLIENT_AUTH_ENV)
    return ClientAPI(url, credential)


@dataclass(frozen=True)
class Launch:
    """What every profile's components are built from."""

    config: StackConfig
    env: dict[str, str]
    credential: str
    authorised: dict[str, str]
    gateway_secrets: dict[str, str]
    shared_keys: dict[str, str]
    python: str
    register: Callable[[], None]


def _local_components(launch: Launch) -> list[Component]:
    config, env, credential, python = launch.config, launch.env, launch.credential, launch.python

    def listen(port: int) -> list[str]:
        return ["--host", config.host, "--port", str(port)]

    return [
        Component(
            "prefect-server",
            [python, "-m", "prefect", "server", "start", *listen(config.prefect_port)],
            answers_ok(f"{config.api_url}/health"),
            120,
            env | {SERVER_AUTH_ENV: credential},
            port_url=f"{config.api_url}/health",
        ),
        demo_component(launch),
        Component(
            "warm-parent",
            [python, "-m", "remediate.warm.parent", "--socket", str(config.warm_socket)],
            lambda: workers.socket_ready(config.warm_socket),
            120,
            env,
        ),
        Component(
            "worker",
            workers.worker_args(),
            lambda: workers.worker_polling(config.api_url, launch.authorised),
            120,
            workers.worker_env(env | launch.shared_keys, config.warm_socket),
            before=launch.register,
        ),
        Component(
            "gateway",
            [python, "-m", "remediate.gateway.server", *listen(config.gateway_port)],
            answers_ok(f"{config.gateway_url}/healthz"),
            60,
            env | launch.gateway_secrets | launch.shared_keys,
            port_url=f"{config.gateway_url}/healthz",
        ),
    ]


def demo_component(launch: Launch) -> Component:
    config = launch.config
    return Component(
        "demo-service",
        [
            *(launch.python, "-m", "remediate.devstack.demo_service"),
            *("--host", config.host, "--port", str(config.demo_port)),
            *("--dir", str(config.data_dir / "demo")),
        ],
        answers_ok(f"{config.demo_url}/"),
        30,
        launch.env,
        port_url=f"{config.demo_url}/",
    )


def up(
    config: StackConfig, echo: Callable[[str], None] = print, profile: str = "local"
) -> StackState:
    """Start what is not running yet; running twice is harmless."""
    if profile not in PROFILES:
        raise StackError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    (config.data_dir / "prefect").mkdir(exist_ok=True)
    previous = read_state(config.data_dir)
    if (
        previous is not None
        and previous.profile != profile
        and any(map(alive, previous.pids.values()))
    ):
        raise StackError(
            f"the {previous.profile!r} profile is running here; `remediate down` first"
        )
    pids = dict(previous.pids) if previous else {}
    dev_secrets = ensure_dev_secrets(config.secrets_file)
    credential = dev_secrets[CLIENT_AUTH_ENV]
    try:
        warm = workers.warm_starts_enabled(dict(os.environ))
    except workers.RegistrationError as exc:
        raise StackError(str(exc)) from None
    scale_topology = None
    if profile == "scale":
        from remediate.devstack import scale

        scale_topology = scale.topology_from_env(config)
    env = _env(config, credential)
    if scale_topology is not None:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = scale_topology.server_env()[DATABASE_URL_ENV]

    def register() -> None:
        echo(f"registering prefect.yaml on work pool {workers.POOL!r} (warm starts: {warm})")
        try:
            workers.register(env, ROOT, config.data_dir, warm)
        except workers.RegistrationError as exc:
            raise StackError(str(exc)) from None
        if scale_topology is not None:
            share_results()

    def share_results() -> None:
        """Several workers resume each other's runs: their cached steps go to one storage
        (``REMEDIATE_RESULTS_URL``, else a directory of the stack every worker reads)."""
        from remediate.runs.result_storage import URL_ENV as RESULTS_URL_ENV

        url = os.environ.get(RESULTS_URL_ENV) or str(config.data_dir / "results")
        echo(f"result storage shared by every worker: {url}")
        done = subprocess.run(
            [sys.executable, "-m", "remediate.cli", "result-storage"],
            env=env | {RESULTS_URL_ENV: url},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise StackError(f"result storage: {done.stderr.strip() or done.stdout.strip()}")

    launch = Launch(
        config=config,
        env=env,
        credential=credential,
        authorised=auth_headers(credential),
        gateway_secrets={name: dev_secrets[name] for name in GATEWAY_SECRET_NAMES},
        shared_keys={name: dev_secrets[name] for name in (MARKER_KEY, DECISION_KEY)},
        python=sys.executable,
        register=register,
    )
    if scale_topology is None:
        components = _local_components(launch)
    else:
        components = scale.components(launch, scale_topology, echo)
    started: list[int] = []
    try:
        for group in _groups(components):
            for component in group:
                if component.before:
                    component.before()
            launched = []
            for component in group:
                if component.name in pids and alive(pids[component.name]):
                    continue
                process = _launch(component, config.log(component.name), echo)
                started.append(process.pid)
                launched.append((component, process))
            for component, process in launched:
                _await_ready(component, process, config.log(component.name))
                pids[component.name] = process.pid
    except BaseException:
        # No stack.json records them yet: stop what this call started rather than leave it.
        for pid in reversed(started):
            _terminate(pid)
        raise

    state = StackState(
        profile=profile,
        prefect_api_url=config.api_url,
        ui_url=config.ui_url,
        demo_url=config.demo_url,
        gateway_url=config.gateway_url,
        api_credentials=credentials_location(config),
        data_dir=str(config.data_dir),
        catalog=str(config.catalog),
        pids=pids,
        logs={name: str(config.log(name)) for name in pids},
    )
    if scale_topology is not None:
        state.gateway_urls = [scale_topology.gateway_url(p) for p in scale_topology.gateway_ports]
        state.gateway_url = state.gateway_urls[0]
        state.api_urls = [scale_topology.replica_url(p) for p in scale_topology.api_ports]
    partial = config.state_file.with_suffix(".tmp")
    partial.write_text(state.model_dump_json(indent=2), encoding="utf-8")
    os.replace(partial, config.state_file)
    return state


def _terminate(pid: int, timeout: float = 10.0) -> None:
    # A Prefect runner finishes its shutdown on a second signal, hence TERM, then INT, then KILL.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)


def down(config: StackConfig, echo: Callable[[str], None] = print) -> None:
    state = read_state(config.data_dir)
    if state is None:
        echo("nothing to stop: no stack.json")
        return
    order = [
        "worker",
        "runner",
        "gateway",
        "warm-parent",
        "demo-service",
        "prefect-services",
        "prefect-api",
        "prefect-server",
        "balancer",
    ]

    def rank(name: str) -> int:
        for position, kind in enumerate(order):
            if name == kind or name.startswith(f"{kind}-"):
                return position
        return len(order)

    names = sorted(state.pids, key=rank)
    for name in names:
        pid = state.pids[name]
        if alive(pid):
            echo(f"stopping {name} (pid {pid})")
            _terminate(pid)
    config.state_file.unlink(missing_ok=True)


def describe(state: StackState) -> str:
    return json.dumps(state.model_dump(exclude={"logs"}), indent=2)
