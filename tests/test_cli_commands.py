"""``remediate check-config`` and ``remediate gateway``, run as the installed command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import yaml

from tests.support.gateway import (
    runs_with_tag,
    sentinel_check,
    signed_headers,
    start_gateway_process,
    wait_drained,
    wait_healthy,
)
from tests.support.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
REMEDIATE = str(Path(sys.executable).parent / "remediate")


def remediate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [REMEDIATE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_check_config_accepts_a_valid_catalog_and_names_its_services(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    services = [
        {"name": "api", "checks": ["S1-*"], "health": [{"url": "http://127.0.0.1:9/health"}]},
        {"name": "batch", "checks": ["B1-*"]},
    ]
    catalog.write_text(yaml.safe_dump({"services": services}))
    done = remediate("check-config", str(catalog))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{catalog}: valid; 2 service(s): api, batch"


def test_check_config_refuses_a_bad_catalog_naming_the_field(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    bad = {"services": [{"name": "api", "health": [{"url": "http://x", "timeout_s": 0}]}]}
    catalog.write_text(yaml.safe_dump(bad))
    done = remediate("check-config", str(catalog))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "timeout_s" in done.stderr and "services" in done.stderr


def test_check_config_refuses_a_missing_file(tmp_path: Path) -> None:
    done = remediate("check-config", str(tmp_path / "absent.yaml"))
    assert done.returncode == 2
    assert "absent.yaml" in done.stderr


async def test_remediate_gateway_serves_intake_and_delivers(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_gateway_process(tmp_path, prefect_server, port, cli=True)
    try:
        await wait_healthy(url)
        raw = json.dumps(sentinel_check(f"CLI-{uuid.uuid4().hex[:8]}")).encode()
        async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
            response = await client.post(
                "/v1/alerts/sentinel", content=raw, headers=signed_headers(raw)
            )
        assert response.status_code == 202, response.text
        fingerprint = response.json()["alerts"][0]["fingerprint"]
        assert (await wait_drained(url))["delivered"] == 1
    finally:
        stop(process)
    # uvicorn shuts down gracefully on SIGTERM, then ends by the same signal
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete." in (tmp_path / "gateway.log").read_text()
    assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 1
    assert (tmp_path / "gateway-outbox.sqlite3").exists()
