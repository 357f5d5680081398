"""Log collection against a real OpenSSH sshd: every failure is recorded, never raised."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from remediate.evidence.config import EvidenceConfig, LogSource, SSHHost
from remediate.evidence.logs import build_command, collect_service_logs
from remediate.evidence.models import LogBundle, LogFailure
from remediate.redaction import Redactor
from tests.support.processes import free_port
from tests.support.sshd import SSHServer


def host(server: SSHServer, name: str = "web-1", **changes: Any) -> SSHHost:
    data: dict[str, Any] = {
        "name": name,
        "address": server.address,
        "port": server.port,
        "user": server.user,
        "known_hosts": str(server.known_hosts),
        "private_key": str(server.client_key),
    }
    data.update(changes)
    return SSHHost.model_validate({k: v for k, v in data.items() if v is not None})


def evidence(**limits: Any) -> EvidenceConfig:
    return EvidenceConfig.model_validate(
        {
            "limits": {"connect_timeout_s": 5, "command_timeout_s": 5, **limits},
            "commands": {"uptime-ish": ["echo", "up; $(id) `id`", "two"]},
        }
    )


async def collect(
    hosts: list[SSHHost], logs: list[LogSource], config: EvidenceConfig | None = None
) -> LogBundle:
    return await collect_service_logs("api", hosts, logs, config or evidence(), Redactor())


def container(name: str, **extra: Any) -> LogSource:
    return LogSource.model_validate({"name": name, "kind": "container", "container": name, **extra})


def remote_processes(user: str) -> list[str]:
    out = subprocess.run(
        ["ps", "-o", "args=", "-u", user], capture_output=True, text=True, check=False
    ).stdout
    return [line for line in out.splitlines() if "sleep" in line or "yes" in line]


async def test_reads_every_kind_of_source_over_one_connection(sshd: SSHServer) -> None:
    sshd.write_container_log("api", "".join(f"api line {i}\n" for i in range(50)))
    sshd.write_unit_log("api.service", "unit started\nunit listening\n")
    path = sshd.write_file("app.log", "first\nsecond\nthird\n")
    logs = [
        container("api", lines=5, since_minutes=30),
        LogSource(name="unit", kind="systemd", unit="api.service", lines=10, since_minutes=15),
        LogSource(name="file", kind="file", path=str(path), lines=2),
        LogSource(name="custom", kind="custom", command="uptime-ish"),
    ]
    bundle = await collect([host(sshd)], logs)

    by_source = {r.source: r for r in bundle.sources}
    assert [r.source for r in bundle.sources] == ["api", "unit", "file", "custom"]
    assert all(r.ok for r in bundle.sources), "\n".join(r.model_dump_json() for r in bundle.sources)
    api = by_source["api"]
    assert api.command == "docker logs --tail 5 --since 30m api"
    assert api.lines[0] == f"port={sshd.port} docker logs --tail 5 --since 30m api"
    assert api.lines[1:] == [f"port={sshd.port} api line {i}" for i in range(45, 50)]
    assert api.endpoint == f"{sshd.user}@127.0.0.1:{sshd.port}"
    unit = by_source["unit"]
    assert unit.command == "journalctl -u api.service --since=-15min -n 10 --no-pager"
    assert unit.lines[-1] == f"port={sshd.port} unit listening"
    assert by_source["file"].lines == ["second", "third"]
    assert by_source["file"].command == f"tail -n 2 -- {path}"
    custom = by_source["custom"]
    assert custom.command == shlex.join(["echo", "up; $(id) `id`", "two"])
    assert custom.lines == ["up; $(id) `id` two"]
    assert bundle.failed == []
    assert bundle.summary == "4 log source(s) on 1 host(s)"


async def test_non_zero_exit_is_recorded_with_stderr(sshd: SSHServer) -> None:
    bundle = await collect([host(sshd)], [container("missing")])
    [result] = bundle.sources
    assert result.failure is None
    assert result.exit_status == 1
    assert not result.ok
    assert result.stderr == "Error response from daemon: No such container: missing"
    assert result.lines == []
    assert bundle.failed == [result]


async def test_wrong_host_key_is_refused(sshd: SSHServer) -> None:
    sshd.write_container_log("api", "secret stuff\n")
    pinned = host(sshd, known_hosts=None, host_key=sshd.stranger_public_key)
    listed = host(sshd, name="web-2", known_hosts=str(sshd.root / "empty_known_hosts"))
    (sshd.root / "empty_known_hosts").write_text(
        f"[127.0.0.1]:{sshd.port} {sshd.stranger_public_key}\n"
    )
    bundle = await collect([pinned, listed], [container("api")])
    assert [r.failure for r in bundle.sources] == [LogFailure.HOST_KEY, LogFailure.HOST_KEY]
    assert all(r.lines == [] and r.exit_status is None for r in bundle.sources)
    assert all("host key not trusted" in (r.error or "") for r in bundle.sources)


async def test_pinned_host_key_is_accepted(sshd: SSHServer) -> None:
    sshd.write_container_log("api", "hello\n")
    bundle = await collect(
        [host(sshd, known_hosts=None, host_key=sshd.host_public_key)], [container("api")]
    )
    assert bundle.sources[0].ok
    assert bundle.sources[0].lines[-1] == f"port={sshd.port} hello"


async def test_refused_login_is_recorded(sshd: SSHServer) -> None:
    bundle = await collect([host(sshd, private_key=str(sshd.stranger_key))], [container("api")])
    [result] = bundle.sources
    assert result.failure is LogFailure.AUTH
    assert result.error


async def test_unreadable_key_is_a_credentials_failure(sshd: SSHServer) -> None:
    bundle = await collect([host(sshd, private_key=str(sshd.root / "nope"))], [container("api")])
    [result] = bundle.sources
    assert result.failure is LogFailure.CREDENTIALS
    assert "cannot read private_key" in (result.error or "")


async def test_host_down_is_recorded(sshd: SSHServer) -> None:
    bundle = await collect([host(sshd, port=free_port())], [container("api"), container("db")])
    assert [r.failure for r in bundle.sources] == [LogFailure.CONNECT, LogFailure.CONNECT]
    assert [r.error for r in bundle.sources] == ["Connection refused"] * 2


async def test_hang_times_out_and_the_remote_command_is_ended(sshd: SSHServer) -> None:
    sshd.write_container_log("api", "fine\n")
    # the timeout runs from opening the channel: long enough for a loaded machine to start
    # the remote command and read its first line; the command itself never ends
    config = evidence(command_timeout_s=8)
    bundle = await collect([host(sshd)], [container("hang"), container("api")], config)
    hang, api = bundle.sources
    assert hang.failure is LogFailure.TIMEOUT
    assert hang.error == "command did not finish within 8 s"
    assert hang.lines == [f"port={sshd.port} starting"]
    assert api.ok
    deadline = time.monotonic() + 10
    while remote_processes(sshd.user) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert remote_processes(sshd.user) == []


async def test_huge_output_is_truncated_with_a_marker(sshd: SSHServer) -> None:
    config = evidence(max_bytes=4096, max_lines=20, read_factor=2)
    bundle = await collect([host(sshd)], [container("huge")], config)
    [result] = bundle.sources
    assert result.failure is None
    assert result.truncated
    assert result.lines[0].startswith(
        "[... output truncated: showing the last 20 lines of at least"
    )
    assert len(result.lines) == 21
    assert all(line.startswith(f"port={sshd.port} a line") for line in result.lines[1:]), (
        result.lines
    )
    deadline = time.monotonic() + 10
    while remote_processes(sshd.user) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert remote_processes(sshd.user) == []


async def test_long_log_is_cut_to_max_lines(sshd: SSHServer) -> None:
    sshd.write_container_log("chatty", "".join(f"n{i}\n" for i in range(300)))
    config = evidence(max_lines=10)
    bundle = await collect([host(sshd)], [container("chatty", lines=300)], config)
    [result] = bundle.sources
    assert result.truncated
    assert result.lines[-1] == f"port={sshd.port} n299"
    assert len(result.lines) == 11
    assert "of 1" in result.lines[0] or "bytes;" in result.lines[0]


async def test_secrets_and_control_characters_never_leave_the_collector(sshd: SSHServer) -> None:
    token = "ghp_" + "A1b2C3d4" * 5
    sshd.write_container_log(
        "leaky",
        f"login ok token={token}\n"
        "\x1b[31mred\x1b[0m and a bell\x07\n"
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----\n",
    )
    bundle = await collect([host(sshd)], [container("leaky")])
    text = "\n".join(bundle.sources[0].lines)
    assert token not in text
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in text
    assert "[REDACTED:github-token]" in text or "[REDACTED:token]" in text
    assert "[REDACTED:private-key]" in text
    assert "\x1b" not in text and "\x07" not in text
    assert f"port={sshd.port} red and a bell" in text


async def test_per_host_concurrency_bounds_parallel_commands(sshd: SSHServer) -> None:
    locks = sshd.root / "locks"
    locks.mkdir(exist_ok=True)
    locks.chmod(0o777)
    exclusive = f"mkdir {locks}/held || exit 7; sleep 0.2; rmdir {locks}/held; echo done"
    config = EvidenceConfig.model_validate(
        {
            "limits": {"per_host_concurrency": 1, "command_timeout_s": 10},
            "commands": {"exclusive": ["sh", "-c", exclusive]},
        }
    )
    logs = [LogSource(name=f"x{i}", kind="custom", command="exclusive") for i in range(4)]
    bundle = await collect([host(sshd)], logs, config)
    assert [(r.exit_status, r.lines) for r in bundle.sources] == [(0, ["done"])] * 4


def accepted_logins(sshd: SSHServer) -> int:
    return (sshd.root / "sshd.log").read_text().count("Accepted publickey")


async def test_one_connection_per_host_for_all_its_sources(sshd: SSHServer) -> None:
    for i in range(5):
        sshd.write_container_log(f"c{i}", f"line {i}\n")
    hosts = [host(sshd, "web-1", port=sshd.ports[0]), host(sshd, "web-2", port=sshd.ports[1])]
    before = accepted_logins(sshd)
    bundle = await collect(hosts, [container(f"c{i}") for i in range(5)])
    assert len(bundle.sources) == 10 and all(r.ok for r in bundle.sources)
    deadline = time.monotonic() + 5
    while accepted_logins(sshd) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert accepted_logins(sshd) - before == 2


async def test_two_hosts_each_give_their_own_logs(sshd: SSHServer) -> None:
    sshd.write_container_log("api", "ready\n")
    hosts = [host(sshd, "web-1", port=sshd.ports[0]), host(sshd, "web-2", port=sshd.ports[1])]
    logs = [container("api"), container("only-one", hosts=["web-2"])]
    bundle = await collect(hosts, logs)
    got = [(r.host, r.source, r.lines[-1] if r.lines else None) for r in bundle.sources]
    assert got == [
        ("web-1", "api", f"port={sshd.ports[0]} ready"),
        ("web-2", "api", f"port={sshd.ports[1]} ready"),
        ("web-2", "only-one", None),
    ]


def test_commands_quote_catalog_values() -> None:
    config = EvidenceConfig.model_validate(
        {"commands": {"x": ["grep", "-e", "a b'c", "/var/log/x y"]}}
    )
    source = LogSource(name="x", kind="custom", command="x")
    assert build_command(source, config) == "grep -e 'a b'\"'\"'c' '/var/log/x y'"
    path_source = LogSource(name="f", kind="file", path="/var/log/with space.log")
    assert build_command(path_source, config) == "tail -n 200 -- '/var/log/with space.log'"


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "container", "container": "-rm"},
        {"kind": "container", "container": "a;b"},
        {"kind": "systemd", "unit": "--all"},
        {"kind": "file", "path": "relative.log"},
        {"kind": "file", "path": "/var/log/../../etc/shadow"},
        {"kind": "file", "path": "/var/log/a\nb"},
        {"kind": "container"},
        {"kind": "file", "path": "/x", "container": "y"},
    ],
)
def test_log_sources_reject_unsafe_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LogSource.model_validate({"name": "x", **bad})


def test_hosts_need_a_host_key_source_and_credentials(tmp_path: Path) -> None:
    base = {"name": "h", "address": "db.internal", "user": "ops", "private_key": "/k"}
    with pytest.raises(ValueError, match="exactly one of known_hosts or host_key"):
        SSHHost.model_validate(base)
    with pytest.raises(ValueError, match="exactly one of private_key or private_key_block"):
        SSHHost.model_validate({**base, "known_hosts": "/kh", "private_key_block": "ssh-key"})
    with pytest.raises(ValueError, match="not an OpenSSH public key"):
        SSHHost.model_validate({**base, "host_key": "ssh-ed25519 not-a-key"})
    with pytest.raises(ValueError, match="address"):
        SSHHost.model_validate({**base, "known_hosts": "/kh", "address": "-oProxyCommand=x"})
    with pytest.raises(ValueError, match="absolute"):
        SSHHost.model_validate({**base, "known_hosts": "known_hosts"})
    ok = SSHHost.model_validate({**base, "known_hosts": "~/.ssh/known_hosts"})
    assert ok.known_hosts_path == Path("~/.ssh/known_hosts").expanduser()
