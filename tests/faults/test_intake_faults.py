"""Intake faults, each injected under a real gateway process: the outbox's filesystem
full, its PostgreSQL restarted, the gateway host's clock stepped.

After each: every alert answered 202 started exactly one run, every refusal was a 503
with ``Retry-After`` that recorded nothing, and the sender's retries were accepted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from remediate.approval import slack
from tests.faults.intake_invariants import (
    Sender,
    assert_answer_once_recorded,
    assert_each_alert_started_one_run,
    assert_refused_for_retry,
)
from tests.support.gateway import (
    SECRET,
    runs_with_tag,
    sentinel_check,
    signed_headers,
    start_gateway_process,
    wait_drained,
    wait_healthy,
)
from tests.support.processes import free_port, stop


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    url: str

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


@contextlib.asynccontextmanager
async def gateway(data_dir: Path, prefect_api: str, **env: str) -> AsyncIterator[GatewayProcess]:
    """``remediate gateway`` as a process of its own; its log is ``data_dir/gateway.log``."""
    port = free_port()
    process = start_gateway_process(data_dir, prefect_api, port, **env)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        yield GatewayProcess(process, f"http://127.0.0.1:{port}")
    finally:
        stop(process)


async def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def health_status(url: str) -> int:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        return (await client.get(f"{url}/healthz")).status_code


# --- the outbox's filesystem full ------------------------------------------------------


@pytest.fixture
def small_volume() -> Iterator[Path]:
    """A 4 MiB tmpfs of the test's own, unmounted afterwards."""
    mount = Path(tempfile.mkdtemp(prefix="remediate-small-volume-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], check=True
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)
        mount.rmdir()


def fill(path: Path) -> None:
    """Write ``path`` until the filesystem has not one byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    assert os.statvfs(path).f_bavail == 0


async def test_sqlite_outbox_on_a_full_filesystem_refuses_with_503_and_loses_nothing(
    tmp_path: Path, small_volume: Path, prefect_server: str, gateway_deployment: str
) -> None:
    env = {"REMEDIATE_OUTBOX_URL": f"sqlite:///{small_volume}/outbox.sqlite3"}
    filler = small_volume / "filler"
    async with gateway(tmp_path, prefect_server, **env) as gw:
        sender = Sender(gw.url)
        for _ in range(3):
            assert (await sender.post(sender.new_alert())).status_code == 202
        await wait_drained(gw.url)
        fill(filler)
        # Alerts of 16 KiB each: once the space the database already holds is used up,
        # the next one cannot be committed.
        for _ in range(200):
            response = await sender.post(sender.new_alert(padding=16 * 1024))
            if response.status_code != 202:
                break
        assert_refused_for_retry(response)
        for _ in range(3):
            response = await sender.post(sender.new_alert(padding=16 * 1024))
            if response.status_code != 202:
                assert_refused_for_retry(response)
        assert await health_status(gw.url) == 200
        # what was answered 202 must not depend on this process: it is killed outright
        gw.kill()
    filler.unlink()
    freed = time.monotonic()
    async with gateway(tmp_path, prefect_server, **env) as gw:
        sender.url = gw.url
        for alert in sender.sent:
            await sender.until_accepted(alert)
        counts = await wait_drained(gw.url)
    refused = sum(a.codes.count(503) for a in sender.sent)
    print(
        f"[faults] full filesystem: {refused} answers 503, {len(sender.sent)} alerts;"
        f" space freed -> gateway restarted, every alert accepted and delivered in"
        f" {time.monotonic() - freed:.1f} s"
    )
    assert counts["delivered"] == len(sender.sent)
    assert any(503 in a.codes for a in sender.sent)
    for alert in sender.sent:
        assert_answer_once_recorded(alert, refused_means_unrecorded=True)
    await assert_each_alert_started_one_run(prefect_server, sender.sent)


# --- PostgreSQL restarted under the outbox ---------------------------------------------


@dataclass
class Cluster:
    """A PostgreSQL cluster of the test's own (never the machine's shared server)."""

    bindir: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120
        )

    def init(self) -> None:
        initdb = str(self.bindir / "initdb")
        self._as_postgres(initdb, "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-l", str(self.root / "postgres.log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def _pg_ctl(self, *args: str) -> None:
        pg_ctl = str(self.bindir / "pg_ctl")
        self._as_postgres(pg_ctl, "-D", str(self.root / "data"), "-w", "-t", "60", *args)


@pytest.fixture
def throwaway_postgres() -> Iterator[Cluster]:
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert bindirs, "PostgreSQL server binaries not found under /usr/lib/postgresql"
    root = Path(tempfile.mkdtemp(prefix="remediate-pg-"))
    shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(bindirs[-1].parent, root, free_port())
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


async def test_postgresql_restart_under_the_outbox_refuses_with_503_and_loses_nothing(
    tmp_path: Path, throwaway_postgres: Cluster, prefect_server: str, gateway_deployment: str
) -> None:
    async with gateway(tmp_path, prefect_server, REMEDIATE_OUTBOX_URL=throwaway_postgres.url) as gw:
        sender = Sender(gw.url)
        stopping = asyncio.Event()

        async def keep_sending(signed: bool) -> None:
            while not stopping.is_set():
                await sender.until_accepted(sender.new_alert(signed=signed), timeout=120)

        def accepted() -> int:
            return sum(a.accepted for a in sender.sent)

        def refused() -> int:
            return sum(a.codes.count(503) for a in sender.sent)

        senders = [asyncio.create_task(keep_sending(signed)) for signed in (True, False)]
        await until(lambda: accepted() >= 5, "alerts accepted before the restart")
        await asyncio.to_thread(throwaway_postgres.stop)
        await until(lambda: refused() >= 4, "alerts refused while PostgreSQL is down")
        assert await health_status(gw.url) == 503
        before = accepted()
        await asyncio.to_thread(throwaway_postgres.start)
        restarted = time.monotonic()
        await until(lambda: accepted() > before, "an alert accepted after the restart")
        first_accepted = time.monotonic() - restarted
        await until(lambda: accepted() >= before + 5, "alerts accepted after the restart")
        stopping.set()
        await asyncio.gather(*senders)
        counts = await wait_drained(gw.url)
        print(
            f"[faults] PostgreSQL restart: {refused()} answers 503 while down;"
            f" first 202 {first_accepted:.1f} s after it was back, outbox drained"
            f" {time.monotonic() - restarted:.1f} s after"
        )
    assert counts["delivered"] == len(sender.sent)
    for alert in sender.sent:
        assert_answer_once_recorded(alert, refused_means_unrecorded=False)
    await assert_each_alert_started_one_run(prefect_server, sender.sent)


# --- the gateway host's clock stepped --------------------------------------------------

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
GRAFANA_SIGNATURE = "X-Grafana-Alerting-Signature"
GRAFANA_TIMESTAMP = "X-Grafana-Alerting-Signature-Timestamp"
SLACK_SECRET = "slack-signing-secret-for-clock-test"


@dataclass
class SteppedClock:
    """The gateway process's wall clock, through libfaketime: the offset file is read on
    every call, so writing it steps the clock of the running process (its monotonic clock
    runs on, as when an operator or NTP steps a host's clock)."""

    offset_file: Path
    url: str = ""

    def env(self) -> dict[str, str]:
        self.offset_file.write_text("+0\n")
        return {
            "LD_PRELOAD": str(FAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(self.offset_file),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            # libfaketime's rewrite of timed waits on monotonic condition variables stalls
            # Python's GIL hand-offs for seconds; the monotonic clock is not faked anyway
            "FAKETIME_FORCE_MONOTONIC_FIX": "0",
        }

    async def step(self, offset_s: int) -> None:
        """Set the offset and wait until the gateway's ``Date`` header shows it."""
        self.offset_file.write_text(f"{offset_s:+d}\n")
        await until(lambda: abs(self._offset() - offset_s) < 3, f"gateway clock at {offset_s:+d} s")

    def _offset(self) -> float:
        response = httpx.get(f"{self.url}/healthz", trust_env=False, timeout=10)
        return parsedate_to_datetime(response.headers["date"]).timestamp() - time.time()


def grafana_body(fingerprint: str) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": f"clock {fingerprint}"},
        "annotations": {"summary": "clock step"},
        "startsAt": "2026-11-27T14:11:09Z",
        "fingerprint": fingerprint,
    }
    return json.dumps({"receiver": "r", "status": "firing", "alerts": [alert]}).encode()


async def signed_posts(url: str, stamp: int) -> dict[str, httpx.Response]:
    """A Sentinel alert, a Grafana alert and a Slack callback, each signed at ``stamp``."""
    sentinel = json.dumps(sentinel_check(f"clock-{uuid.uuid4().hex[:8]}"))
    grafana = grafana_body(uuid.uuid4().hex[:16])
    callback = b"payload=%7B%7D"
    grafana_signature = hmac.new(
        SECRET.encode(), f"{stamp}:".encode() + grafana, hashlib.sha256
    ).hexdigest()
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as client:
        return {
            "sentinel": await client.post(
                "/v1/alerts/sentinel",
                content=sentinel.encode(),
                headers=signed_headers(sentinel.encode(), at=stamp),
            ),
            "grafana": await client.post(
                "/v1/alerts/grafana",
                content=grafana,
                headers={GRAFANA_SIGNATURE: grafana_signature, GRAFANA_TIMESTAMP: str(stamp)},
            ),
            "slack": await client.post(
                "/v1/approvals/slack",
                content=callback,
                headers={
                    slack.TIMESTAMP_HEADER: str(stamp),
                    slack.SIGNATURE_HEADER: slack.sign(SLACK_SECRET, str(stamp), callback),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            ),
        }


def assert_refused_as_stale(answers: dict[str, httpx.Response], offset_s: int) -> None:
    """401 naming the reason: how far the request's timestamp is from the gateway's clock."""
    for name, response in answers.items():
        assert response.status_code == 401, (name, response.text)
        detail = response.json()["detail"]
        found = re.search(r"timestamp is ([+-]\d+) s from the gateway's clock", detail)
        assert found is not None and "outside the tolerance of 300 s" in detail, (name, detail)
        assert abs(int(found.group(1)) + offset_s) <= 3, (name, detail)


def assert_signature_accepted(answers: dict[str, httpx.Response]) -> list[str]:
    """The fingerprints of the two alerts accepted."""
    assert answers["sentinel"].status_code == 202, answers["sentinel"].text
    assert answers["grafana"].status_code == 202, answers["grafana"].text
    # past the signature the empty callback is refused for its payload, not its signature
    assert answers["slack"].status_code == 422, answers["slack"].text
    return [answers[n].json()["alerts"][0]["fingerprint"] for n in ("sentinel", "grafana")]


async def test_clock_steps_within_and_past_the_signature_tolerance(
    tmp_path: Path, prefect_server: str, gateway_deployment: str
) -> None:
    assert FAKETIME.exists(), "libfaketime missing: apt-get install faketime"
    clock = SteppedClock(tmp_path / "clock-offset")
    env = clock.env() | {
        "REMEDIATE_GRAFANA_SIGNATURE_HEADER": GRAFANA_SIGNATURE,
        "REMEDIATE_GRAFANA_TIMESTAMP_HEADER": GRAFANA_TIMESTAMP,
        "REMEDIATE_SLACK_SIGNING_SECRET": SLACK_SECRET,
        "REMEDIATE_DECISION_KEY": "decision-key-for-clock-test",
        "REMEDIATE_GATEWAY_MAX_NEW_PER_MINUTE": "4",
    }
    async with gateway(tmp_path, prefect_server, **env) as gw:
        clock.url = gw.url
        sender = Sender(gw.url)
        first = [sender.new_alert(signed=False) for _ in range(2)]
        for alert in first:
            assert (await sender.post(alert)).status_code == 202
        await wait_drained(gw.url)

        # six runs start in all, over the cap of four a minute
        signed: list[str] = []
        for offset in (+200, -200):
            await clock.step(offset)
            signed += assert_signature_accepted(await signed_posts(gw.url, int(time.time())))
            await wait_drained(gw.url)
        for offset in (+400, -400, -3600):
            await clock.step(offset)
            assert_refused_as_stale(await signed_posts(gw.url, int(time.time())), offset)

        # An hour back: the six runs started a moment ago now look an hour ahead. A new
        # alert still starts its run now (not once the clock has caught up with them), and
        # the senders' retries of the first ones start none.
        late = sender.new_alert(signed=False)
        assert (await sender.post(late)).status_code == 202
        for alert in first:
            assert (await sender.post(alert)).json()["duplicates"] == 1
        await wait_drained(gw.url, timeout=60)

        await clock.step(+3600)
        ahead = sender.new_alert(signed=False)
        assert (await sender.post(ahead)).status_code == 202
        for alert in [*first, late]:
            assert (await sender.post(alert)).json()["duplicates"] == 1
        await wait_drained(gw.url, timeout=60)

        await clock.step(0)
        assert_signature_accepted(await signed_posts(gw.url, int(time.time())))
    for alert in sender.sent:
        assert_answer_once_recorded(alert, refused_means_unrecorded=True)
    await assert_each_alert_started_one_run(prefect_server, sender.sent)
    for fingerprint in signed:
        assert len(await runs_with_tag(prefect_server, f"fingerprint:{fingerprint}")) == 1
