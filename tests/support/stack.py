"""A runner serving the deployments of prefect.yaml against the test Prefect server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.processes import http_ok, start, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Runner:
    api_url: str
    catalog: Path
    data_dir: Path
    log: Path

    def write_catalog(self, catalog: dict[str, object]) -> None:
        """Runs read the catalog when they start, so a test may change it between alerts."""
        self.catalog.write_text(yaml.safe_dump(catalog), encoding="utf-8")

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PREFECT_API_URL": self.api_url,
            "REMEDIATE_CATALOG": str(self.catalog),
            "REMEDIATE_DATA_DIR": str(self.data_dir),
        }


@pytest.fixture(scope="session")
def remediate_runner(
    prefect_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runner]:
    """The remediate-alert deployment served by a real runner process."""
    home = tmp_path_factory.mktemp("runner")
    runner = Runner(prefect_server, home / "catalog.yaml", home / "data", home / "runner.log")
    runner.write_catalog({"services": []})
    env = {**runner.env, "PYTHONPATH": str(ROOT)}
    process = start(
        [
            sys.executable,
            "-m",
            "remediate.devstack.runner",
            "--prefect-yaml",
            str(ROOT / "prefect.yaml"),
            "--only",
            "remediate-alert",
        ],
        env,
        runner.log,
        cwd=ROOT,
    )
    try:
        wait_until(
            http_ok(f"{prefect_server}/deployments/name/remediate-alert/remediate-alert"),
            120,
            "remediate-alert deployment",
        )
        yield runner
    finally:
        stop(process)
