"""The warm parent: imports Prefect and the flows once, then forks one child per flow run.

It stays single-threaded with no event loop and no clients (checked before every fork), so a
child starts from clean state, rebuilds Prefect's settings from the run's environment and
runs the engine. It restarts itself (same pid, fresh imports) once the project code it
imported changes, after its running children end; meanwhile launchers start runs cold.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import select
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from remediate.warm.engine import record, run_engine
from remediate.warm.protocol import Handoff, ProtocolError, receive_handoff

ROOT = Path(__file__).resolve().parents[2]
ENGINE_MODULES = ("prefect.engine", "prefect.flow_engine", "prefect.client.orchestration")
HANDOFF_TIMEOUT = 5.0


class WarmParentError(Exception):
    pass


@dataclass(frozen=True)
class ChildJob:
    """What a forked child runs, once it has left the parent's loop."""

    handoff: Handoff
    fds: list[int]
    parent_pid: int
    launcher_pid: int
    accepted: float
    logging_inputs: tuple[object, ...] | None


def flow_modules(prefect_yaml: Path) -> list[str]:
    from remediate.devstack.runner import module_entrypoint, read_deployments

    names = {
        module_entrypoint(d.entrypoint).partition(":")[0] for d in read_deployments(prefect_yaml)
    }
    return sorted(names)


def project_files() -> dict[str, float]:
    """Modification times of the project's imported modules: what a deploy changes."""
    stamps: dict[str, float] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().is_relative_to(ROOT):
            with contextlib.suppress(OSError):
                stamps[path] = os.stat(path).st_mtime
    return stamps


def changed_files(stamps: dict[str, float]) -> list[str]:
    changed = []
    for path, mtime in stamps.items():
        try:
            if os.stat(path).st_mtime != mtime:
                changed.append(path)
        except OSError:
            changed.append(path)
    return changed


@dataclass
class WarmParent:
    socket_path: Path
    stamps: dict[str, float] = field(default_factory=dict)
    children: dict[int, socket.socket] = field(default_factory=dict)
    draining: str | None = None
    stopping: bool = False
    logging_inputs: tuple[object, ...] | None = None

    def preload(self, modules: list[str]) -> None:
        for name in (*ENGINE_MODULES, *modules):
            importlib.import_module(name)
        if threading.active_count() != 1:
            names = [t.name for t in threading.enumerate()]
            raise WarmParentError(f"importing the flows started threads: {names}")
        self.stamps = project_files()
        self.logging_inputs = logging_inputs()

    def serve(self) -> ChildJob | None:
        """Accept hand-offs until stopped (``None``) or, in a forked child, its job."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        os.set_blocking(wake_read, False)
        signal.set_wakeup_fd(wake_write)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        self.socket_path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        os.chmod(self.socket_path, 0o600)
        listener.listen(64)
        owner = os.getpid()
        selector = selectors.DefaultSelector()
        selector.register(listener, selectors.EVENT_READ)
        selector.register(wake_read, selectors.EVENT_READ)
        print(f"warm parent {owner} listening on {self.socket_path}", flush=True)
        try:
            while not self.stopping:
                for key, _ in selector.select():
                    if key.fileobj is listener:
                        job = self._accept(listener)
                        if job is not None:
                            selector.close()
                            listener.close()
                            os.close(wake_read)
                            os.close(wake_write)
                            return job
                    else:
                        with contextlib.suppress(BlockingIOError):
                            os.read(wake_read, 512)
                self._reap()
                if self.draining and not self.children:
                    self._restart(listener)
        finally:
            if os.getpid() == owner:
                listener.close()
                self.socket_path.unlink(missing_ok=True)
                for conn in self.children.values():
                    conn.close()
        return None

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True

    def _accept(self, listener: socket.socket) -> ChildJob | None:
        conn, _ = listener.accept()
        accepted = time.perf_counter()
        conn.settimeout(HANDOFF_TIMEOUT)
        try:
            handoff, fds = receive_handoff(conn)
        except (OSError, ProtocolError) as exc:
            print(f"warm parent: bad hand-off: {exc}", file=sys.stderr, flush=True)
            conn.close()
            return None
        refusal = self._refusal()
        if refusal:
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(OSError):
                conn.sendall(f"refused {refusal}\n".encode())
            conn.close()
            return None
        launcher_pid = peer_pid(conn)
        sys.stdout.flush()
        sys.stderr.flush()
        parent_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            conn.close()
            for other in self.children.values():
                other.close()
            self.children.clear()
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            return ChildJob(handoff, fds, parent_pid, launcher_pid, accepted, self.logging_inputs)
        for fd in fds:
            os.close(fd)
        self.children[pid] = conn
        # A launcher gone already: the run goes on; the worker records the launcher's end.
        with contextlib.suppress(OSError):
            conn.sendall(f"pid {pid}\n".encode())
        return None

    def _refusal(self) -> str | None:
        if self.draining:
            return self.draining
        changed = changed_files(self.stamps)
        if changed:
            self.draining = f"code changed ({changed[0]}); warm parent restarting"
            return self.draining
        if threading.active_count() != 1:
            return f"warm parent has {threading.active_count()} threads; refusing to fork"
        return None

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {status}\n".encode())
                conn.close()

    def _restart(self, listener: socket.socket) -> None:
        print(f"warm parent: {self.draining}; re-executing", flush=True)
        listener.close()
        self.socket_path.unlink(missing_ok=True)
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606


def logging_inputs() -> tuple[object, ...] | None:
    """What Prefect builds its logging configuration from: the logging settings, the levels
    its default configuration file names, and the ``PREFECT_LOGGING_*`` overrides. ``None``
    with a custom configuration file, which may name any setting."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.logging.config_path.exists():
        return None
    overrides = sorted((k, v) for k, v in os.environ.items() if k.startswith("PREFECT_LOGGING_"))
    return (
        settings.logging.model_dump(),
        settings.server.logging_level,
        settings.internal.logging_level,
        overrides,
    )


def peer_pid(conn: socket.socket) -> int:
    credentials = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, _uid, _gid = struct.unpack("3i", credentials)
    return int(pid)


def die_with(pid: int) -> None:
    """End this process by SIGKILL when ``pid`` ends, as a cold engine dies with its process:
    a launcher killed outright (the worker's last resort) must not leave the run going."""
    try:
        watched = os.pidfd_open(pid)
    except ProcessLookupError:
        os.kill(os.getpid(), signal.SIGKILL)
        return

    def watch() -> None:
        select.select([watched], [], [])
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="remediate-warm-launcher-watch", daemon=True).start()


def run_child(job: ChildJob) -> int:
    die_with(job.launcher_pid)
    for target, fd in enumerate(job.fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(job.handoff.cwd)
    os.environ.clear()
    os.environ.update(job.handoff.env)

    import prefect.context
    from prefect.logging.configuration import setup_logging

    prefect.context.refresh_global_settings_context()
    inputs = logging_inputs()
    if inputs is None or inputs != job.logging_inputs:
        setup_logging(incremental=False)
    waited = time.perf_counter() - job.accepted
    record(
        f"warm start: forked from warm parent {job.parent_pid} in {waited * 1000:.0f} ms "
        f"for launcher {job.launcher_pid}",
        logging.INFO,
    )
    return run_engine()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="remediate-warm-parent")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument(
        "--prefect-yaml",
        type=Path,
        default=ROOT / "prefect.yaml",
        help="preload the flow modules of these deployments",
    )
    parser.add_argument(
        "--module", action="append", default=[], help="preload this module too (repeatable)"
    )
    args = parser.parse_args(argv)
    parent = WarmParent(args.socket.resolve())
    parent.preload([*flow_modules(args.prefect_yaml), *args.module])
    job = parent.serve()
    if job is None:
        return 0
    return run_child(job)


if __name__ == "__main__":
    raise SystemExit(main())
