"""A real Prometheus on 127.0.0.1 scraping itself, for metric queries over HTTP."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.processes import free_port, http_ok, start, stop, wait_until

PROMETHEUS = "/usr/bin/prometheus"


def _scraped(url: str) -> bool:
    try:
        response = httpx.get(
            f"{url}/api/v1/query", params={"query": 'up{job="self"}'}, trust_env=False
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and bool(response.json()["data"]["result"])


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yields the base URL of a Prometheus that has scraped itself at least once."""
    if shutil.which(PROMETHEUS) is None:
        pytest.fail(f"{PROMETHEUS} missing: install the Debian package prometheus")
    home: Path = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {"job_name": "self", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    process = start(
        [
            PROMETHEUS,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        dict(os.environ),
        home / "prometheus.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(http_ok(f"{url}/-/ready"), 60, "Prometheus")
        wait_until(lambda: _scraped(url), 60, "Prometheus self-scrape")
        yield url
    finally:
        stop(process)
