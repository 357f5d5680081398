"""Flow runs on a stock process worker, started from the warm parent by the launcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.warm_flows import LOG_LINES
from tests.support.warm_stack import ROOT, WarmStack, children

WARM = "warm start: forked from warm parent"
COLD = "cold start (no warm parent)"


def test_states_task_runs_and_every_log_line_reach_the_api(warm_stack: WarmStack) -> None:
    run_id = warm_stack.create_run("warm-chatty")
    warm_stack.wait_state(run_id, "Completed")
    logs = warm_stack.wait_logs(run_id, "Finished in state Completed")
    assert sum(WARM in line for line in logs) == 1
    assert not any(COLD in line for line in logs)
    for n in range(1, LOG_LINES + 1):
        assert f"line {n} of {LOG_LINES}" in logs
    task_runs = warm_stack.task_runs(run_id)
    assert len(task_runs) == 3
    assert {t["state"]["type"] for t in task_runs} == {"COMPLETED"}


def test_two_runs_at_once_keep_their_own_environment_and_directory(
    warm_stack: WarmStack, tmp_path: Path
) -> None:
    runs = {}
    for mark in ("left", "right"):
        (tmp_path / mark).mkdir()
        job = {"env": {"WARM_TEST_MARK": mark}, "working_dir": str(tmp_path / mark)}
        runs[mark] = warm_stack.create_run(
            "warm-where", parameters={"hold_seconds": 3}, job_variables=job
        )
    for mark, run_id in runs.items():
        warm_stack.wait_state(run_id, "Completed")
        logs = warm_stack.wait_logs(run_id, "seen {")
        seen = next(line for line in logs if line.startswith("seen {"))
        assert f"'mark': '{mark}'" in seen
        assert f"'cwd': '{tmp_path / mark}'" in seen
        assert any(WARM in line for line in logs)
    started = [warm_stack.run(r)["start_time"] for r in runs.values()]
    ended = [warm_stack.run(r)["end_time"] for r in runs.values()]
    assert max(started) < min(ended), "the two runs did not overlap"


def _pid_of(warm_stack: WarmStack, run_id: str) -> int:
    logs = warm_stack.wait_logs(run_id, "sleeping in pid")
    line = next(line for line in logs if line.startswith("sleeping in pid"))
    return int(line.rsplit(" ", 1)[1])


def test_cancel_from_the_api_ends_cancelled(warm_stack: WarmStack) -> None:
    import httpx

    run_id = warm_stack.create_run("warm-sleeper")
    warm_stack.wait_state(run_id, "Running")
    pid = _pid_of(warm_stack, run_id)
    answer = httpx.post(
        f"{warm_stack.api_url}/flow_runs/{run_id}/set_state",
        json={"state": {"type": "CANCELLING"}, "force": True},
        trust_env=False,
    )
    answer.raise_for_status()
    run = warm_stack.wait_state(run_id, "CANCELLED")
    assert run["state"]["name"] == "Cancelled"
    _wait_gone(pid)


def test_kill_9_of_the_run_process_ends_crashed(warm_stack: WarmStack) -> None:
    run_id = warm_stack.create_run("warm-sleeper")
    warm_stack.wait_state(run_id, "Running")
    pid = _pid_of(warm_stack, run_id)
    os.kill(pid, signal.SIGKILL)
    run = warm_stack.wait_state(run_id, "CRASHED")
    assert "-9" in (run["state"]["message"] or ""), run["state"]


def test_a_launcher_killed_outright_takes_its_run_with_it(warm_stack: WarmStack) -> None:
    run_id = warm_stack.create_run("warm-sleeper")
    warm_stack.wait_state(run_id, "Running")
    child = _pid_of(warm_stack, run_id)
    started = next(line for line in warm_stack.logs(run_id) if WARM in line)
    launcher = int(started.rsplit(" ", 1)[1])
    assert launcher != child
    os.kill(launcher, signal.SIGKILL)
    _wait_gone(child)
    warm_stack.wait_state(run_id, "CRASHED")


def test_suspended_run_resumes_warm_after_remediate_approve(warm_stack: WarmStack) -> None:
    run_id = warm_stack.create_run("warm-gate")
    warm_stack.wait_state(run_id, "Suspended")
    env = {**warm_stack.env, "PREFECT_API_URL": warm_stack.api_url}
    approve = [sys.executable, "-m", "remediate.cli", "approve", run_id, "--approver", "alice"]
    result = subprocess.run(
        [*approve, "--api-url", warm_stack.api_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    warm_stack.wait_state(run_id, "Completed")
    logs = warm_stack.wait_logs(run_id, "decided by alice: approved=True")
    assert sum(WARM in line for line in logs) == 2, logs
    assert not any(COLD in line for line in logs)


def _wait_gone(pid: int, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and _state(pid) != "Z":
        assert time.monotonic() < deadline, f"pid {pid} still running"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.mark.timeout(1800)
def test_many_runs_leave_no_zombie_and_flat_memory(warm_stack: WarmStack) -> None:
    assert warm_stack.parent is not None
    parent = warm_stack.parent.pid
    count = int(os.environ.get("REMEDIATE_WARM_RUNS", "200"))
    warmup = 5
    baseline = 0
    for n in range(count):
        run_id = warm_stack.create_run("warm-chatty", parameters={"lines": 1})
        warm_stack.wait_state(run_id, "Completed")
        if n + 1 == warmup:
            baseline = _rss_kb(parent)
    import time

    deadline = time.monotonic() + 60
    while children(parent):
        assert time.monotonic() < deadline, f"children left: {children(parent)}"
        time.sleep(0.2)
    grown = _rss_kb(parent) - baseline
    assert grown < 4096, f"warm parent grew {grown} kB over {count - warmup} runs"


def test_without_a_warm_parent_the_run_starts_cold_and_says_so(warm_stack: WarmStack) -> None:
    assert warm_stack.parent is not None
    warm_stack.parent.send_signal(signal.SIGKILL)
    warm_stack.parent.wait()
    try:
        run_id = warm_stack.create_run("warm-chatty", parameters={"lines": 2})
        warm_stack.wait_state(run_id, "Completed")
        logs = warm_stack.wait_logs(run_id, COLD)
        assert not any(WARM in line for line in logs)
        assert any("unavailable" in line for line in logs if COLD in line)
    finally:
        warm_stack.start_parent()
    run_id = warm_stack.create_run("warm-chatty", parameters={"lines": 2})
    warm_stack.wait_state(run_id, "Completed")
    assert any(WARM in line for line in warm_stack.wait_logs(run_id, WARM))


def test_changed_code_restarts_the_warm_parent(warm_stack: WarmStack) -> None:
    assert warm_stack.parent is not None
    flows_file = ROOT / "tests" / "support" / "warm_flows.py"
    stat = flows_file.stat()
    os.utime(flows_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    run_id = warm_stack.create_run("warm-chatty", parameters={"lines": 2})
    warm_stack.wait_state(run_id, "Completed")
    logs = warm_stack.wait_logs(run_id, COLD)
    assert any("code changed" in line for line in logs)
    # The parent re-executes itself (same pid) once idle; later runs start warm again.
    import time

    deadline = time.monotonic() + 120
    while True:
        run_id = warm_stack.create_run("warm-chatty", parameters={"lines": 2})
        warm_stack.wait_state(run_id, "Completed")
        logs = warm_stack.wait_logs(run_id, "start")
        if any(WARM in line for line in logs):
            break
        assert time.monotonic() < deadline, "the warm parent did not come back"
    assert warm_stack.parent.poll() is None


@pytest.mark.parametrize("status", [0, 3])
def test_launcher_ends_with_the_child_exit_code(status: int) -> None:
    from remediate.warm.launcher import _end_like

    assert _end_like(status << 8) == status


def test_malformed_hand_offs_are_refused_with_the_reason() -> None:
    import socket

    from remediate.warm.protocol import ProtocolError, receive_handoff

    left, right = socket.socketpair()
    with left, right:
        socket.send_fds(left, [b"\x00\x00\x00\x05"], [0, 1, 2])
        left.sendall(b"[1,2]")
        with pytest.raises(ProtocolError, match="malformed hand-off"):
            receive_handoff(right)
    left, right = socket.socketpair()
    with left, right:
        socket.send_fds(left, [b"\x00\x00\x00\x05"], [0])
        with pytest.raises(ProtocolError, match="expected a length and 3 descriptors, got 1"):
            receive_handoff(right)
    left, right = socket.socketpair()
    with left, right:
        socket.send_fds(left, [b"\xff\xff\xff\xff"], [0, 1, 2])
        with pytest.raises(ProtocolError, match="exceeds"):
            receive_handoff(right)


def test_a_run_gets_the_logging_level_of_its_own_environment(tmp_path: Path) -> None:
    """The parent configured Prefect's logging at INFO; a run whose environment says WARNING
    gets WARNING, one that says INFO keeps the parent's configuration."""
    sock = tmp_path / "warm.sock"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_LOGGING_LEVEL": "INFO"}
    env.pop("PREFECT__FLOW_RUN_ID", None)
    args = ["--socket", str(sock), "--module", "tests.support.warm_logging_probe"]
    parent = subprocess.Popen(
        [sys.executable, "-m", "remediate.warm.parent", *args, "--prefect-yaml", os.devnull],
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        while not sock.exists():
            assert parent.poll() is None and time.monotonic() < deadline, "no warm parent"
            time.sleep(0.2)
        for level, expected in (("WARNING", 30), ("INFO", 20)):
            launched = subprocess.run(
                [sys.executable, "-m", "remediate.warm.launcher"],
                env=env | {"PREFECT_LOGGING_LEVEL": level, "REMEDIATE_WARM_SOCKET": str(sock)},
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert launched.returncode == 0, launched.stderr
            assert WARM in launched.stderr
            assert f"flow-run logger level {expected}" in launched.stderr
    finally:
        parent.terminate()
        parent.wait(timeout=30)
