"""A real OpenSSH sshd on 127.0.0.1 (two ports) with a test user and stand-in log commands.

The test user's PATH starts with a directory holding a fake ``docker`` and a journal-less
``journalctl`` that read their output from files under ``logs``; special container names
make the fake ``docker`` hang, flood its output, fail, or (``dropped``) print a line and
then kill its own sshd session so the connection drops mid-output. Every line a stand-in prints
starts with ``port=<server port>`` so a test can tell which "host" answered.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port, start, stop, wait_until

SSHD = Path("/usr/sbin/sshd")
TEST_USER = "remediate-ssh"
TEST_HOME = "/var/lib/remediate-ssh"

FAKE_DOCKER = r"""#!/bin/sh
port=${SSH_CONNECTION##* }
[ "$1" = logs ] || { echo "docker: only 'logs' is available here" >&2; exit 2; }
shift
tail=all
since=
while [ $# -gt 1 ]; do
  case "$1" in
    --tail) tail=$2; shift 2 ;;
    --since) since=$2; shift 2 ;;
    *) echo "docker: unknown flag: $1" >&2; exit 125 ;;
  esac
done
name=$1
case "$name" in
  hang) echo "port=$port starting"; exec sleep 600 ;;
  huge) exec yes "port=$port a line of a very chatty container that never stops talking" ;;
  dropped)
    echo "port=$port ERROR a line printed before the connection drops"
    p=$PPID
    while [ "$p" -gt 1 ]; do
      case "$(cat /proc/$p/comm)" in sshd*) kill -9 "$p"; exec sleep 30 ;; esac
      p=$(cut -d' ' -f4 /proc/$p/stat)
    done
    exit 3 ;;
esac
file="$FAKE_LOG_ROOT/containers/$name.log"
if [ ! -f "$file" ]; then
  echo "Error response from daemon: No such container: $name" >&2
  exit 1
fi
echo "port=$port docker logs --tail $tail --since $since $name"
tail -n "$tail" "$file" | sed "s/^/port=$port /"
"""

FAKE_JOURNALCTL = r"""#!/bin/sh
port=${SSH_CONNECTION##* }
unit=
lines=10
since=
while [ $# -gt 0 ]; do
  case "$1" in
    -u) unit=$2; shift 2 ;;
    -n) lines=$2; shift 2 ;;
    --since=*) since=${1#--since=}; shift ;;
    --no-pager) shift ;;
    *) echo "journalctl: unexpected argument $1" >&2; exit 1 ;;
  esac
done
file="$FAKE_LOG_ROOT/units/$unit.log"
if [ ! -f "$file" ]; then
  echo "-- No entries --"
  exit 0
fi
echo "port=$port journalctl -u $unit --since $since -n $lines"
tail -n "$lines" "$file" | sed "s/^/port=$port /"
"""


@dataclass(frozen=True)
class SSHServer:
    address: str
    ports: tuple[int, ...]
    user: str
    root: Path
    known_hosts: Path
    host_public_key: str
    client_key: Path
    client_public_key: str
    stranger_key: Path
    stranger_public_key: str
    logs: Path

    @property
    def port(self) -> int:
        return self.ports[0]

    def write_container_log(self, name: str, text: str) -> None:
        self._write(self.logs / "containers" / f"{name}.log", text)

    def write_unit_log(self, unit: str, text: str) -> None:
        self._write(self.logs / "units" / f"{unit}.log", text)

    def write_file(self, name: str, text: str) -> Path:
        path = self.logs / "files" / name
        self._write(path, text)
        return path

    @staticmethod
    def _write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o755)
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o644)


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


def _login_user() -> str:
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", TEST_HOME,
             "--shell", "/bin/sh", "--password", "*", TEST_USER],
            check=True,
        )  # fmt: skip
    subprocess.run(
        ["install", "-d", "-m", "0755", "-o", TEST_USER, "-g", TEST_USER, TEST_HOME], check=True
    )
    # A "!" password marks the account locked, which sshd refuses without PAM; "*" only
    # rules out password logins. usermod refuses while the user runs processes, so it
    # runs only when something is off.
    entry = pwd.getpwnam(TEST_USER)
    if entry.pw_dir != TEST_HOME or entry.pw_shell != "/bin/sh" or _locked(TEST_USER):
        subprocess.run(
            ["usermod", "--password", "*", "--home", TEST_HOME, "--shell", "/bin/sh", TEST_USER],
            check=True,
        )
    return TEST_USER


def _locked(user: str) -> bool:
    for line in Path("/etc/shadow").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == user:
            return rest.startswith("!")
    return False


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@contextlib.contextmanager
def running_sshd(port_count: int = 2) -> Iterator[SSHServer]:
    """An sshd listening on ``port_count`` loopback ports, stopped and removed on exit."""
    if not SSHD.exists():
        raise RuntimeError(f"{SSHD} missing: install the openssh-server package")
    user = _login_user()
    root = Path(tempfile.mkdtemp(prefix="remediate-sshd-"))
    os.chmod(root, 0o755)
    bin_dir, logs = root / "bin", root / "logs"
    for directory in (bin_dir, logs):
        directory.mkdir()
        os.chmod(directory, 0o755)
    for name, script in (("docker", FAKE_DOCKER), ("journalctl", FAKE_JOURNALCTL)):
        (bin_dir / name).write_text(script)
        os.chmod(bin_dir / name, 0o755)
    host_public = _keygen(root / "host_key", "test-host")
    client_public = _keygen(root / "client_key", "remediate-test")
    stranger_public = _keygen(root / "stranger_key", "stranger")
    (root / "authorized_keys").write_text(client_public + "\n")
    os.chmod(root / "authorized_keys", 0o644)
    ports = tuple(free_port() for _ in range(port_count))
    config = root / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                *(f"Port {p}" for p in ports),
                f"HostKey {root / 'host_key'}",
                f"PidFile {root / 'sshd.pid'}",
                f"AuthorizedKeysFile {root / 'authorized_keys'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin no",
                f"AllowUsers {user}",
                f"SetEnv PATH={bin_dir}:/usr/bin:/bin FAKE_LOG_ROOT={logs}",
                "MaxStartups 100:30:200",
                "MaxSessions 50",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    known_hosts = root / "known_hosts"
    known_hosts.write_text("".join(f"[127.0.0.1]:{p} {host_public}\n" for p in ports))
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    process = start([str(SSHD), "-D", "-e", "-f", str(config)], dict(os.environ), root / "sshd.log")
    try:
        wait_until(lambda: all(_listening(p) for p in ports), 30, "sshd")
        yield SSHServer(
            address="127.0.0.1",
            ports=ports,
            user=user,
            root=root,
            known_hosts=known_hosts,
            host_public_key=host_public,
            client_key=root / "client_key",
            client_public_key=client_public,
            stranger_key=root / "stranger_key",
            stranger_public_key=stranger_public,
            logs=logs,
        )
    finally:
        stop(process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHServer]:
    with running_sshd() as server:
        yield server
