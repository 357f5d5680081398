"""The launcher <-> warm parent wire format (standard library only: the launcher imports it).

The launcher sends its standard streams as file descriptors with a 4-byte length, then the
JSON hand-off (environment, working directory). The parent answers with lines:
``pid N`` once the child runs, ``exit STATUS`` (a wait status) when it ends, or
``refused REASON`` instead of a pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
from dataclasses import dataclass

SOCKET_ENV = "REMEDIATE_WARM_SOCKET"
FALLBACK_ENV = "REMEDIATE_WARM_FALLBACK"
MAX_HANDOFF_BYTES = 4 * 1024 * 1024
_LENGTH = struct.Struct("!I")


class ProtocolError(Exception):
    pass


@dataclass(frozen=True)
class Handoff:
    env: dict[str, str]
    cwd: str


def send_handoff(sock: socket.socket, handoff: Handoff, fds: list[int]) -> None:
    body = json.dumps({"env": handoff.env, "cwd": handoff.cwd}).encode()
    socket.send_fds(sock, [_LENGTH.pack(len(body))], fds)
    sock.sendall(body)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(65536, size - len(chunks)))
        if not chunk:
            raise ProtocolError(f"hand-off ended after {len(chunks)} of {size} bytes")
        chunks += chunk
    return bytes(chunks)


def receive_handoff(sock: socket.socket, nfds: int = 3) -> tuple[Handoff, list[int]]:
    header, fds, _, _ = socket.recv_fds(sock, _LENGTH.size, nfds)
    if len(header) != _LENGTH.size or len(fds) != nfds:
        for fd in fds:
            _close(fd)
        raise ProtocolError(f"expected a length and {nfds} descriptors, got {len(fds)}")
    (size,) = _LENGTH.unpack(header)
    try:
        if size > MAX_HANDOFF_BYTES:
            raise ProtocolError(f"hand-off of {size} bytes exceeds {MAX_HANDOFF_BYTES}")
        data = json.loads(_recv_exactly(sock, size))
        env, cwd = data["env"], data["cwd"]
        if not isinstance(cwd, str) or not isinstance(env, dict):
            raise ProtocolError("hand-off needs an env object and a cwd string")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ProtocolError("hand-off environment must map strings to strings")
    except (ValueError, KeyError, TypeError) as exc:
        for fd in fds:
            _close(fd)
        raise ProtocolError(f"malformed hand-off: {exc}") from None
    except ProtocolError:
        for fd in fds:
            _close(fd)
        raise
    return Handoff(env=env, cwd=cwd), fds


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class LineReader:
    """Reads the parent's answer lines from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def line(self) -> str | None:
        """The next line, or ``None`` when the parent closed the connection first."""
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(4096)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")
