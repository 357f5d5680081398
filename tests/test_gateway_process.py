from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.support.gateway import (
    TOKEN,
    Relay,
    runs_with_tag,
    sentinel_check,
    signed_headers,
    start_gateway_process,
    wait_drained,
    wait_healthy,
)
from tests.support.prefect_proxy import running_proxy
from tests.support.processes import free_port, start, stop


def kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def post_alerts(url: str, bodies: list[dict[str, object]]) -> list[str]:
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:

        async def post(body: dict[str, object]) -> str:
            raw = json.dumps(body).encode()
            response = await client.post(
                "/v1/alerts/sentinel", content=raw, headers=signed_headers(raw)
            )
            assert response.status_code == 202
            fingerprint: str = response.json()["alerts"][0]["fingerprint"]
            return fingerprint

        return list(await asyncio.gather(*(post(b) for b in bodies)))


def prefect_port(api_url: str) -> int:
    return int(api_url.split(":")[2].split("/")[0])


async def test_sigkill_between_accept_and_delivery_delivers_after_restart(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    relay = Relay(prefect_port(prefect_server))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prefix = uuid.uuid4().hex[:8]
    process = start_gateway_process(tmp_path, relay.api_url, port)
    try:
        await wait_healthy(url)
        fingerprints = await post_alerts(url, [sentinel_check(f"K{n}-{prefix}") for n in range(10)])
        kill(process)
        await relay.start()
        process = start_gateway_process(tmp_path, relay.api_url, port)
        await wait_healthy(url)
        counts = await wait_drained(url)
    finally:
        stop(process)
        await relay.stop()
    assert counts["delivered"] == 10
    for fingerprint in fingerprints:
        assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 1


async def test_sigkill_while_delivering_neither_loses_nor_doubles(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    """The kill lands while a run creation is in flight: Prefect has created the run, the
    gateway has not heard so (the proxy holds the answer) nor recorded it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    prefix = uuid.uuid4().hex[:8]
    async with running_proxy(prefect_server) as proxy:
        proxy.hold_creates = True
        process = start_gateway_process(tmp_path, proxy.api_url, port)
        try:
            await wait_healthy(url)
            bodies = [sentinel_check(f"M{n}-{prefix}") for n in range(20)]
            fingerprints = await post_alerts(url, bodies)
            await asyncio.wait_for(proxy.create_held.wait(), 60)
            kill(process)
            assert proxy.creates_answered == [201]  # one creation reached Prefect, unanswered
            created = [
                f for f in fingerprints if await runs_with_tag(prefect_server, f"fingerprint:{f}")
            ]
            assert len(created) == 1
            proxy.hold_creates = False
            process = start_gateway_process(tmp_path, proxy.api_url, port)
            await wait_healthy(url)
            counts = await wait_drained(url)
        finally:
            stop(process)
    assert counts["delivered"] == 20
    for fingerprint in fingerprints:
        assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 1


ALERTMANAGER_CONFIG = """
route:
  receiver: remediate
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: remediate
    webhook_configs:
      - url: {url}/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


async def test_real_alertmanager_webhook_starts_a_run_and_resolves_it(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    assert Path("/usr/bin/prometheus-alertmanager").exists(), (
        "Debian package prometheus-alertmanager (infra/apt-packages.txt) not installed"
    )
    gateway_port, am_port = free_port(), free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    am_url = f"http://127.0.0.1:{am_port}"
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(ALERTMANAGER_CONFIG.format(url=gateway_url, token=TOKEN))
    alertname = f"DiskFull{uuid.uuid4().hex[:8]}"
    gateway = start_gateway_process(tmp_path / "gateway", prefect_server, gateway_port)
    alertmanager = start(
        [
            "/usr/bin/prometheus-alertmanager",
            f"--config.file={config_file}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        dict(os.environ),
        tmp_path / "alertmanager.log",
    )
    try:
        await wait_healthy(gateway_url)
        async with httpx.AsyncClient(base_url=am_url, trust_env=False, timeout=10) as client:
            for _ in range(300):
                try:
                    if (await client.get("/-/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            started = datetime.now(UTC) - timedelta(seconds=5)
            alert = {
                "labels": {"alertname": alertname, "severity": "critical", "instance": "db-1"},
                "annotations": {"summary": "disk /var is 99% full"},
                "startsAt": started.isoformat(),
            }
            assert (await client.post("/api/v2/alerts", json=[alert])).status_code == 200
            runs = await _eventually(
                lambda: runs_with_tag(prefect_server, f"check:{alertname}"), lambda r: len(r) == 1
            )
            parameters = runs[0]["parameters"]["alert"]
            assert parameters["source"] == "alertmanager"
            assert parameters["summary"] == "disk /var is 99% full"
            assert parameters["severity"] == "critical"
            ended = {**alert, "endsAt": datetime.now(UTC).isoformat()}
            assert (await client.post("/api/v2/alerts", json=[ended])).status_code == 200
            runs = await _eventually(
                lambda: runs_with_tag(prefect_server, f"check:{alertname}"),
                lambda r: "alert-resolved" in r[0]["tags"],
            )
            assert len(runs) == 1
    finally:
        stop(alertmanager)
        stop(gateway)


async def _eventually(fetch, done, timeout: float = 60):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fetch()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached; last value: {value!r}"[:2000])
        await asyncio.sleep(0.2)
