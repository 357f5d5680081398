from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import free_port, http_ok, start_prefect_server, stop, wait_until

ROOT = Path(__file__).resolve().parent.parent

# Fixture modules of each area register here.
pytest_plugins: list[str] = [
    "tests.support.github",
    "tests.support.http_services",
    "tests.support.stack",
    "tests.support.model_server",
    "tests.support.repos",
    "tests.support.git_remote",
    "tests.support.admin_service",
    "tests.support.fix_runner",
    "tests.support.webhook_sink",
    "tests.support.sshd",
    "tests.support.sim_service",
    "tests.support.gateway",
    "tests.support.prometheus",
    "tests.support.warm_stack",
    "tests.support.held_endpoint",
]

# Prefect reads its settings when first imported, so the test server's address is fixed
# before any test module imports Prefect; the server itself starts on first use.
_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="remediate-test-prefect-"))
_PREFECT_PORT = free_port()
os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{_PREFECT_PORT}/api"
os.environ["PREFECT_HOME"] = str(_PREFECT_HOME / "client")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")


# Seconds each test file took in a full run (`pytest --durations=0`), longest first: with
# `-n N --dist loadfile` the longest files start first instead of ending the run alone.
_FILE_SECONDS: dict[str, float] = json.loads((ROOT / "tests" / "file_durations.json").read_text())
_UNKNOWN_FILE_SECONDS = 60.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def seconds(item: pytest.Item) -> float:
        name = item.path.relative_to(ROOT / "tests").as_posix()
        return _FILE_SECONDS.get(name, _UNKNOWN_FILE_SECONDS)

    items.sort(key=seconds, reverse=True)


POSTGRES_ADMIN_URL = os.environ.get(
    "REMEDIATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _admin(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def _prefect_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the session's Prefect server.

    The suite needs PostgreSQL (under a full test session SQLite answers 503 while it is
    locked), so a server that does not answer fails the run rather than changing what runs.
    """
    name = f"remediate_prefect_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        pytest.fail(
            f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({exc}); the suite needs it:"
            " start it (.ci/run does) or point REMEDIATE_TEST_POSTGRES_URL at one",
            pytrace=False,
        )
    try:
        yield (
            "postgresql+asyncpg://"
            + POSTGRES_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
            + f"/{name}"
        )
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[str]:
    """A real Prefect server for the whole test session; yields its API URL."""
    with _prefect_database() as database_url:
        yield from _serve_prefect(database_url)


def _serve_prefect(database_url: str) -> Iterator[str]:
    process = start_prefect_server(
        _PREFECT_PORT,
        _PREFECT_HOME / "server",
        database_url,
        dict(os.environ),
        _PREFECT_HOME / "server.log",
    )
    api = os.environ["PREFECT_API_URL"]
    try:
        wait_until(http_ok(f"{api}/health"), 120, "Prefect server")
        yield api
    finally:
        stop(process)


_NO_SKIPS = (
    "skipped, and a skip fails this suite: a component it needs must be present"
    " (infra/install-system-deps.sh, .ci/run). Reason: "
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A skipped test fails: nothing here may go green by not running."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} {_NO_SKIPS}{reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """A module skipped as a whole (``importorskip``, ``allow_module_level``) fails too."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid} {_NO_SKIPS}{reason}"
