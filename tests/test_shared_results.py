"""Shared result storage: a run suspended on worker A and resumed on worker B reuses its
cached steps.

Real processes: one Prefect server, two stock process workers on one pool, each with its
own warm parent, PREFECT_HOME and data directory; the only thing they share is the result
storage `remediate result-storage` configured (an S3 bucket on a local S3-compatible
server, or a directory). Worker A runs the alert to the approval gate and is killed with
its warm parent; worker B finishes the approved run without a second model session, clone
or pre-approval issue write.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from flows.remediate_alert import remediate_alert
from remediate.alerts import Alert
from remediate.devstack.workers import base_job_template, job_command
from remediate.runs.api import PrefectAPI
from remediate.runs.result_storage import (
    BLOCK_ENV,
    ENDPOINT_ENV,
    URL_ENV,
    ResultStorageConfig,
    ResultStorageError,
    configure,
)
from tests.github_standin import GitHubStandIn
from tests.support.fix_runner import DECISION_KEY, MODEL_KEY, TOKEN, FixRunner
from tests.support.git_remote import GitRemote
from tests.support.model_server import ModelServer
from tests.support.processes import free_port, start, stop, wait_until
from tests.test_fix_approval import READ_EDIT, alert, github_catalog

ROOT = Path(__file__).resolve().parent.parent
S3_KEYS = {"AWS_ACCESS_KEY_ID": "shared-results", "AWS_SECRET_ACCESS_KEY": "shared-results"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1."""
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = start(args, {**os.environ, **S3_KEYS}, log)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/moto-api/", timeout=5, trust_env=False).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 60, "S3 server")
        yield url
    finally:
        stop(process)


def _bucket(endpoint: str) -> str:
    import boto3

    name = f"results-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_keys())
    client.create_bucket(Bucket=name)
    return name


def _keys() -> dict[str, str]:
    return {k.lower(): v for k, v in S3_KEYS.items()}


@dataclass
class Host:
    """A worker host: a warm parent and a process worker with nothing on disk shared with
    another host (own PREFECT_HOME, data directory, working directory and socket)."""

    name: str
    home: Path
    env: dict[str, str]
    parent: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None

    @classmethod
    def make(cls, name: str, home: Path, base_env: dict[str, str]) -> Host:
        home.mkdir(parents=True)
        env = {
            **base_env,
            "PREFECT_HOME": str(home / "prefect"),
            "REMEDIATE_DATA_DIR": str(home / "data"),
            "REMEDIATE_WARM_SOCKET": str(home / "warm.sock"),
        }
        return cls(name, home, env)

    def start_parent(self) -> None:
        socket = self.env["REMEDIATE_WARM_SOCKET"]
        args = [sys.executable, "-m", "remediate.warm.parent", "--socket", socket]
        self.parent = start(args, self.env, self.home / "parent.log", cwd=self.home)

    def start_worker(self, pool: str) -> None:
        wait_until(Path(self.env["REMEDIATE_WARM_SOCKET"]).exists, 120, f"parent {self.name}")
        args = ["prefect", "worker", "start", "--pool", pool, "--type", "process"]
        self.worker = start(
            [sys.executable, "-m", *args, "--prefetch-seconds", "1", "--limit", "2"],
            self.env,
            self.home / "worker.log",
            cwd=self.home,
        )

    def kill(self) -> None:
        """SIGKILL to the worker's and the warm parent's whole process groups."""
        for process in (self.worker, self.parent):
            assert process is not None
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for process in (self.worker, self.parent):
            if process is not None:
                stop(process)


def issue_writes(standin: GitHubStandIn) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path, *_ in standin.requests
        if method in ("POST", "PATCH") and "/issues" in path
    ]


@pytest.fixture
def shared_storage(
    request: pytest.FixtureRequest, s3_endpoint: str, tmp_path: Path, prefect_server: str
) -> Iterator[dict[str, str]]:
    """`remediate result-storage` makes the bucket or directory the API's default result
    storage for the test; cleared afterwards (the server is shared with other test files
    of this process)."""
    from remediate.cli import main

    if request.param == "s3":
        env = {URL_ENV: f"s3://{_bucket(s3_endpoint)}/runs", ENDPOINT_ENV: s3_endpoint}
    else:
        env = {URL_ENV: str(tmp_path / "shared-volume")}
    env[BLOCK_ENV] = f"results-{uuid.uuid4().hex[:8]}"
    saved = {k: os.environ.get(k) for k in (*S3_KEYS, *env)}
    os.environ.update(S3_KEYS | env)
    try:
        assert main(["result-storage"]) == 0
        yield env
    finally:
        asyncio.run(_clear_default())
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _clear_default() -> None:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        await client.clear_server_default_result_storage()


@pytest.mark.parametrize("shared_storage", ["s3"], indirect=True)
def test_run_resumed_on_another_worker_reuses_cached_steps(
    shared_storage: dict[str, str],
    prefect_server: str,
    fix_model: ModelServer,
    git_remote: GitRemote,
    github_standin: GitHubStandIn,
    tmp_path: Path,
) -> None:
    git_remote.token = TOKEN
    git_remote.add_repo("acme", "service")
    github_standin.add_repo("acme/service", sha=git_remote.branches("acme", "service")["main"])
    git_remote.on_push = lambda path, root: [
        github_standin.add_branch("acme/service", name, sha)
        for name, sha in git_remote.branches("acme", "service").items()
    ]
    check = f"shared-{uuid.uuid4().hex[:6]}"
    config = {"investigation": {"enabled": False}}
    config |= github_catalog(check, git_remote, github_standin)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(config), encoding="utf-8")
    fix_model.play(*READ_EDIT)

    pool = f"shared-{uuid.uuid4().hex[:8]}"
    httpx.post(
        f"{prefect_server}/work_pools/",
        json={
            "name": pool,
            "type": "process",
            "base_job_template": base_job_template(job_command(True)),
        },
        trust_env=False,
        timeout=60,
    ).raise_for_status()
    from prefect.types.entrypoint import EntrypointType

    remediate_alert.to_deployment(name=pool, entrypoint_type=EntrypointType.MODULE_PATH).apply(
        work_pool_name=pool
    )
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_RESULTS_")},
        **S3_KEYS,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": prefect_server,
        "PREFECT_WORKER_QUERY_SECONDS": "0.5",
        "REMEDIATE_CATALOG": str(catalog),
        "ANTHROPIC_API_KEY": MODEL_KEY,
        "ANTHROPIC_BASE_URL": fix_model.url,
        "GITHUB_TOKEN": TOKEN,
        "REMEDIATE_DECISION_KEY": DECISION_KEY,
    }
    runs = FixRunner(prefect_server, catalog, tmp_path, tmp_path / "unused.log", fix_model)

    a = Host.make("A", tmp_path / "a", base_env)
    b = Host.make("B", tmp_path / "b", base_env)
    try:
        a.start_parent()
        b.start_parent()  # ready by the time it is needed; its worker starts after A is gone
        a.start_worker(pool)
        run_id = asyncio.run(_submit(prefect_server, alert(check), f"remediate-alert/{pool}"))
        runs.wait_for(run_id, "Suspended", timeout=240)
        shown = runs.shown_sha256(run_id)
        model_calls = len(fix_model.model_requests())
        clones = git_remote.count("git-upload-pack")  # one clone (ls-refs, fetch)
        writes = issue_writes(github_standin)
        assert model_calls == len(READ_EDIT) and clones and writes, runs.logs(run_id)

        a.kill()
        b.start_worker(pool)
        approval = {"decision": "approve", "approver": "alice", "diff_sha256": shown}
        assert runs.resume(run_id, approval)["status"] == "ACCEPT"
        runs.wait_for(run_id, "Completed", timeout=240)

        logs = runs.logs(run_id)
        assert b.parent is not None and f"forked from warm parent {b.parent.pid}" in logs
        assert len(fix_model.model_requests()) == model_calls
        # the publication's own fresh clone and its ls-remote, nothing more
        assert git_remote.count("git-upload-pack") == 2 * clones + 1
        created = [
            path
            for method, path in issue_writes(github_standin)
            if method == "POST" and path.endswith("/repos/acme/service/issues")
        ]
        assert len(created) == 1
        (issue,) = github_standin.issues("acme/service")
        bodies = [c.body for c in issue.comments]
        assert sum("Fix proposal: proposed" in body for body in bodies) == 1
        assert sum("Fix approved" in body for body in bodies) == 1
        assert len(github_standin.pulls("acme/service")) == 1
        assert github_standin.violations == []
    finally:
        a.stop()
        b.stop()


async def _submit(api_url: str, an_alert: Alert, deployment: str) -> str:
    async with PrefectAPI(api_url) as api:
        return (await api.submit_alert(an_alert, deployment=deployment)).id


@pytest.mark.parametrize("shared_storage", ["s3", "filesystem"], indirect=True)
def test_cached_step_found_by_a_process_with_its_own_home(
    shared_storage: dict[str, str], prefect_server: str, tmp_path: Path
) -> None:
    """Two processes that share nothing on disk but the configured storage: the second one
    gets the first one's cached result without running the step."""
    counter = tmp_path / "ran.txt"
    key = f"step-{uuid.uuid4().hex}"
    for home in ("one", "two"):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_RESULTS_")},
            **S3_KEYS,
            "PYTHONPATH": str(ROOT),
            "PREFECT_API_URL": prefect_server,
            "PREFECT_HOME": str(tmp_path / home),
        }
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.cached_step", key, str(counter)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"result of {key}" in done.stdout
    assert counter.read_text(encoding="utf-8").splitlines() == [key]
    assert not (tmp_path / "one" / "storage").exists()


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "REMEDIATE_RESULTS_URL is not set"),
        ({URL_ENV: "s3://"}, "names no bucket"),
        ({URL_ENV: "relative/dir"}, "not an absolute path"),
        ({URL_ENV: "gs://bucket"}, "scheme 'gs' is not supported"),
        ({URL_ENV: "s3://b", ENDPOINT_ENV: "127.0.0.1:9000"}, "REMEDIATE_RESULTS_S3_ENDPOINT_URL"),
    ],
)
def test_result_storage_settings_refused_with_the_field(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ResultStorageError, match=problem):
        ResultStorageConfig.from_env(env)


def test_result_storage_settings() -> None:
    s3 = ResultStorageConfig.from_env({URL_ENV: "s3://bucket/a/b/", ENDPOINT_ENV: "http://s3:9000"})
    assert (s3.kind, s3.location, s3.folder, s3.endpoint_url) == (
        "s3",
        "bucket",
        "a/b",
        "http://s3:9000",
    )
    shared = ResultStorageConfig.from_env({URL_ENV: "file:///mnt/results", BLOCK_ENV: "x"})
    assert (shared.kind, shared.location, shared.block_name) == ("filesystem", "/mnt/results", "x")


def test_storage_that_cannot_be_written_is_refused_before_it_becomes_the_default(
    s3_endpoint: str, prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in S3_KEYS.items():
        monkeypatch.setenv(key, value)
    missing = {URL_ENV: "s3://no-such-bucket/runs", ENDPOINT_ENV: s3_endpoint}
    with pytest.raises(
        ResultStorageError, match="cannot write and read s3 result storage 'no-such-bucket'"
    ):
        asyncio.run(configure(ResultStorageConfig.from_env(missing)))
    answer = httpx.get(f"{prefect_server}/admin/storage", trust_env=False, timeout=60)
    answer.raise_for_status()
    assert answer.json()["default_result_storage_block_id"] is None


def test_result_storage_command_names_the_missing_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from remediate.cli import main

    monkeypatch.delenv(URL_ENV, raising=False)
    assert main(["result-storage"]) == 2
    assert "REMEDIATE_RESULTS_URL is not set" in capsys.readouterr().err
