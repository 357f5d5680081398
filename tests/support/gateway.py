"""Gateway test helpers: an in-process gateway, a switchable TCP relay to Prefect, run counts."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediate.catalog import Catalog
from remediate.gateway.app import Gateway, create_app
from remediate.gateway.auth import SIGNATURE_HEADER, sign
from remediate.gateway.config import GatewayConfig
from remediate.runs.api import PrefectAPI
from tests.support.processes import free_port, start

SECRET = "gateway-test-secret-1"
OLD_SECRET = "gateway-test-secret-0"
TOKEN = "gateway-test-token-1"
PAGERDUTY_SECRET = "pagerduty-test-secret-1"
SENTRY_SECRET = "sentry-test-client-secret-1"
DATADOG_TOKEN = "datadog-test-token-1"
OPSGENIE_TOKEN = "opsgenie-test-token-1"
TEST_DEPLOYMENT_NAME = "gateway-intake-test"
TEST_DEPLOYMENT = f"remediate-alert/{TEST_DEPLOYMENT_NAME}"
DATA = Path(__file__).resolve().parents[1] / "data" / "gateway"


def payload(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
async def gateway_deployment(prefect_server: str) -> str:
    """A deployment of the real remediate_alert flow that no worker serves: runs stay
    Scheduled, so tests observe exactly what the gateway created."""
    from flows.remediate_alert import remediate_alert

    deployment = await remediate_alert.to_deployment(name=TEST_DEPLOYMENT_NAME)
    await deployment.apply()
    return TEST_DEPLOYMENT


def config(data_dir: Path, prefect_api_url: str, **overrides: Any) -> GatewayConfig:
    values: dict[str, Any] = {
        "hmac_secrets": [SECRET, OLD_SECRET],
        "ingest_tokens": [TOKEN],
        "pagerduty_secrets": [PAGERDUTY_SECRET],
        "sentry_secrets": [SENTRY_SECRET],
        "datadog_tokens": [DATADOG_TOKEN],
        "opsgenie_tokens": [OPSGENIE_TOKEN],
        "data_dir": data_dir,
        "prefect_api_url": prefect_api_url,
        "deployment": TEST_DEPLOYMENT,
        "max_new_per_minute": 100_000,
        "rate_per_s": 0,
        "retry_initial_s": 0.1,
        "retry_max_s": 0.5,
        "run_state_cache_s": 0.5,
        "publish_interval_s": 0.2,
    }
    values.update(overrides)
    return GatewayConfig.model_validate(values)


def signed_headers(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = int(time.time() if at is None else at)
    return {SIGNATURE_HEADER: sign(secret, stamp, body), "Content-Type": "application/json"}


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def hex_hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pagerduty_headers(body: bytes, *secrets: str) -> dict[str, str]:
    """As PagerDuty signs: one ``v1=`` per active key (several while it rotates)."""
    values = ",".join(f"v1={hex_hmac(s, body)}" for s in secrets or (PAGERDUTY_SECRET,))
    return {"X-PagerDuty-Signature": values, "Content-Type": "application/json"}


def sentry_headers(body: bytes, resource: str, secret: str = SENTRY_SECRET) -> dict[str, str]:
    return {
        "Sentry-Hook-Signature": hex_hmac(secret, body),
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(time.time())),
        "Request-ID": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


@dataclass
class RunningGateway:
    client: httpx.AsyncClient
    config: GatewayConfig
    gateway: Gateway

    async def post_signed(self, path: str, body: Any, secret: str = SECRET) -> httpx.Response:
        raw = json.dumps(body).encode()
        return await self.client.post(path, content=raw, headers=signed_headers(raw, secret))

    async def post_token(self, path: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers=bearer())

    async def outbox(self) -> dict[str, int]:
        response = await self.client.get("/healthz")
        assert response.status_code == 200
        counts: dict[str, int] = response.json()["outbox"]
        return counts

    async def drained(self, timeout: float = 60) -> dict[str, int]:
        """Wait until the outbox holds nothing pending; returns the final counts."""
        deadline = time.monotonic() + timeout
        while True:
            counts = await self.outbox()
            if counts["pending"] == 0:
                return counts
            if time.monotonic() > deadline:
                raise TimeoutError(f"outbox not drained: {counts}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_gateway(
    config: GatewayConfig,
    catalog: Catalog | None = None,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[RunningGateway]:
    app = create_app(config, catalog, clock)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60
        ) as client,
    ):
        yield RunningGateway(client, config, app.state.gateway)


def sentinel_check(check_id: str | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "check_id": check_id or f"S1-probes-{uuid.uuid4().hex[:8]}",
        "timestamp": "2026-11-27T14:11:09.106227",
        "status": "fail",
        "latency_ms": 4.89,
        "message": "Unexpected status: HTTP 500",
        "details": {},
    }
    body.update(changes)
    return body


async def runs_with_tag(api_url: str, tag: str) -> list[dict[str, Any]]:
    async with PrefectAPI(api_url) as api:
        return await api.flow_runs([tag], limit=200)


class Relay:
    """A TCP relay in front of Prefect; stopping it makes the API unreachable."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


ROOT = Path(__file__).resolve().parents[2]


def start_gateway_process(
    data_dir: Path, prefect_api_url: str, port: int, cli: bool = False, **env_overrides: str
) -> subprocess.Popen[bytes]:
    """``python -m remediate.gateway.server`` as ``remediate gateway`` runs it (``cli``: the
    ``remediate gateway`` command itself)."""
    catalog = data_dir / "catalog.yaml"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not catalog.exists():
        catalog.write_text("services: []\n", encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": prefect_api_url,
        "REMEDIATE_HMAC_SECRETS": f"{SECRET},{OLD_SECRET}",
        "REMEDIATE_INGEST_TOKENS": TOKEN,
        "REMEDIATE_PAGERDUTY_SECRETS": PAGERDUTY_SECRET,
        "REMEDIATE_SENTRY_SECRETS": SENTRY_SECRET,
        "REMEDIATE_DATADOG_TOKENS": DATADOG_TOKEN,
        "REMEDIATE_OPSGENIE_TOKENS": OPSGENIE_TOKEN,
        "REMEDIATE_GATEWAY_DEPLOYMENT": TEST_DEPLOYMENT,
        "REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE": "100000",
        "REMEDIATE_GATEWAY_RETRY_MAX_S": "0.5",
        **env_overrides,
    }
    command = [str(Path(sys.executable).parent / "remediate"), "gateway"]
    args = command if cli else [sys.executable, "-m", "remediate.gateway.server"]
    args += ["--port", str(port)]
    args += ["--data-dir", str(data_dir), "--catalog", str(catalog)]
    return start(args, env, data_dir / "gateway.log", cwd=ROOT)


async def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(trust_env=False) as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/healthz", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"gateway at {url} not healthy")


async def wait_drained(url: str, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(trust_env=False) as client:
        while True:
            counts: dict[str, int] = (await client.get(f"{url}/healthz")).json()["outbox"]
            if counts["pending"] == 0:
                return counts
            if time.monotonic() > deadline:
                raise TimeoutError(f"outbox not drained: {counts}")
            await asyncio.sleep(0.1)


POSTGRES_ADMIN_URL = os.environ.get(
    "REMEDIATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
async def postgres_outbox_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test; no reachable server fails the test."""
    import asyncpg  # type: ignore[import-untyped]

    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    name = f"remediate_gw_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
