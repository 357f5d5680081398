"""The work pool's job command: hands this flow run to the warm parent, else starts it cold.

Standard library only, so it starts in milliseconds. It passes its environment, working
directory and standard streams to the parent, forwards signals to the child the parent
forked, and ends with the child's exit status (by the same signal if the child was killed).
Without a parent it execs a cold engine that records why in the run's logs.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import sys

from remediate.warm.protocol import FALLBACK_ENV, SOCKET_ENV, Handoff, LineReader, send_handoff

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)
CONNECT_TIMEOUT = 5.0


def cold(reason: str) -> None:
    print(f"remediate.warm: cold start: {reason}", file=sys.stderr, flush=True)
    env = {**os.environ, FALLBACK_ENV: reason}
    os.execve(sys.executable, [sys.executable, "-m", "remediate.warm.cold"], env)  # noqa: S606


def _hand_off(path: str) -> tuple[socket.socket, LineReader, int] | str:
    """The connection, its reader and the child's pid; or why there is none."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        sock.connect(path)
        send_handoff(sock, Handoff(env=dict(os.environ), cwd=os.getcwd()), [0, 1, 2])
        reader = LineReader(sock)
        answer = reader.line()
    except OSError as exc:
        sock.close()
        return f"warm parent at {path} unavailable: {exc}"
    if answer is None or not answer.startswith("pid "):
        sock.close()
        return f"warm parent at {path} refused the run: {answer or 'connection closed'}"
    sock.settimeout(None)
    return sock, reader, int(answer.removeprefix("pid "))


def _wait_without_parent(pid: int) -> None:
    """The parent went away mid-run: wait for its orphaned child all the same."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def _end_like(status: int) -> int:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return os.waitstatus_to_exitcode(status)


def main() -> int:
    path = os.environ.get(SOCKET_ENV)
    if not path:
        cold(f"{SOCKET_ENV} is not set")
    assert path is not None
    handed = _hand_off(path)
    if isinstance(handed, str):
        cold(handed)
        return 1
    _connection, reader, pid = handed

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    try:
        answer = reader.line()
    except OSError:
        answer = None
    if answer is None or not answer.startswith("exit "):
        print(
            f"remediate.warm: warm parent went away during the run; waiting for pid {pid}",
            file=sys.stderr,
            flush=True,
        )
        _wait_without_parent(pid)
        return 1
    return _end_like(int(answer.removeprefix("exit ")))


if __name__ == "__main__":
    raise SystemExit(main())
