"""Code the model writes runs only inside the OS sandbox.

The real Claude Code CLI runs against the scripted model. The catalog allows one exact test
command; the model writes a module that the command imports, so whatever the module does
is what a planted ``conftest.py`` or a shadowing ``pytest.py`` would do in a real repository.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediate.fixer.config import FixerConfig
from remediate.fixer.guard import is_protected
from remediate.fixer.models import FixStatus
from remediate.fixer.propose import propose_fix
from remediate.fixer.sandbox import SandboxCheck, probe_sandbox
from remediate.fixer.text import proposal_comment
from tests.support.model_server import ModelServer, Turn, tool
from tests.test_fix_proposal import DONE, make_alert, make_service

RUN = "python3 -B -c 'import hostile'"
MODEL_KEY = "sk-test-model-key-in-the-cli-only"


@pytest.fixture(scope="module", autouse=True)
def sandbox_installed() -> None:
    """bubblewrap and socat come from infra/apt-packages.txt: their absence fails the run."""
    probe = probe_sandbox()
    assert probe.available, f"OS sandbox unavailable: {probe.detail}"


@pytest.fixture
def model_env(model_server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> ModelServer:
    monkeypatch.setenv("ANTHROPIC_API_KEY", MODEL_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_worker_token_never_in_the_sandbox")
    return model_server


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections reaching it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = int(self.sock.getsockname()[1])
        self.arrived = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.arrived += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.close()


def tool_results(model: ModelServer) -> str:
    """Everything the tools answered, as the model received it."""
    out = []
    for message in model.model_requests()[-1]["messages"]:
        if isinstance(message["content"], list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    out.append(json.dumps(block.get("content")))
    return "\n".join(out)


def plant_and_run(module: str, config: FixerConfig, *extra: Turn) -> list[Turn]:
    return [
        Turn([tool("Write", file_path="hostile.py", content=module)]),
        Turn([tool("Bash", command=RUN)]),
        *extra,
        Turn([DONE]),
    ]


def bash_config(*commands: str) -> FixerConfig:
    return FixerConfig(tools=["Read", "Write", "Bash"], test_commands=[RUN, *commands])


async def test_planted_code_reaches_no_listener_on_loopback(
    model_env: ModelServer, service_repo: Path, listener: Listener
) -> None:
    module = f"""
import os, socket, urllib.request
for attempt in ("direct", "proxy"):
    try:
        if attempt == "direct":
            socket.create_connection(("127.0.0.1", {listener.port}), timeout=3).close()
        else:
            proxy = os.environ.get("HTTP_PROXY", "")
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({{"http": proxy}}))
            opener.open("http://sink.example:{listener.port}/", timeout=5)
        print(attempt, "CONNECTED")
    except Exception as exc:
        print(attempt, "blocked:", exc)
"""
    curl = f"curl -sS -m 5 http://127.0.0.1:{listener.port}/"
    config = bash_config(curl)
    model_env.play(*plant_and_run(module, config, Turn([tool("Bash", command=curl)])))
    proposal = await propose_fix(make_alert(), make_service(service_repo), config)

    assert listener.arrived == 0
    results = tool_results(model_env)
    assert "direct blocked" in results and "proxy blocked" in results
    assert "CONNECTED" not in results
    assert "Failed to connect to 127.0.0.1" in results
    assert any("network-outbound" in v for v in proposal.sandbox_violations)
    assert proposal.sandbox.startswith("Bash ran only in the OS sandbox")
    assert proposal.denials == []


async def test_planted_code_writes_nothing_outside_the_checkout(
    model_env: ModelServer, service_repo: Path, tmp_path: Path
) -> None:
    outside = Path("/tmp") / f"outside-{uuid.uuid4().hex}"
    beside = tmp_path / "beside-the-checkout.txt"
    marker = Path("/tmp") / f"git-filter-ran-{uuid.uuid4().hex}"
    module = f"""
import os
from pathlib import Path
targets = [{str(outside)!r}, {str(beside)!r}, os.path.expanduser("~/planted"),
           ".git/config", ".git/hooks/post-checkout", ".git/info/attributes"]
for target in targets:
    try:
        with open(target, "a") as handle:
            handle.write('[filter "x"]\\n\\tclean = touch {marker}\\n')
        print("WROTE", target)
    except OSError as exc:
        print("refused", target, exc.strerror)
Path(".gitattributes").write_text("* filter=x\\n")
Path("inside.txt").write_text("the checkout stays writable\\n")
"""
    model_env.play(*plant_and_run(module, bash_config()))
    proposal = await propose_fix(make_alert(), make_service(service_repo), bash_config())

    results = tool_results(model_env)
    assert "WROTE" not in results
    assert results.count("refused") == 6
    assert not outside.exists()
    assert not beside.exists()
    # git ran `add` on the checkout outside the sandbox: no planted filter may run there
    assert not marker.exists()
    assert "inside.txt" in proposal.files_changed
    assert proposal.status is FixStatus.REFUSED
    assert proposal.reason == "the change touches protected path .gitattributes (.gitattributes)"


async def test_sandboxed_commands_see_no_credential_and_no_worker_files(
    model_env: ModelServer,
    service_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker_home = tmp_path / "worker-home"
    (worker_home / ".ssh").mkdir(parents=True)
    (worker_home / ".ssh" / "id_ed25519").write_text("PRIVATE-KEY-OF-THE-WORKER\n")
    worker_dir = tmp_path / "worker-dir"
    worker_dir.mkdir()
    (worker_dir / ".env").write_text("DATABASE_PASSWORD=worker-dir-secret\n")
    monkeypatch.setenv("HOME", str(worker_home))
    monkeypatch.chdir(worker_dir)
    module = f"""
import os
for key, value in sorted(os.environ.items()):
    print(f"{{key}}={{value}}")
for path in ({str(worker_home / ".ssh" / "id_ed25519")!r}, {str(worker_dir / ".env")!r}):
    try:
        print(open(path).read())
    except OSError as exc:
        print("unreadable", path, exc.strerror)
"""
    config = bash_config("env")
    model_env.play(*plant_and_run(module, config, Turn([tool("Bash", command="env")])))
    proposal = await propose_fix(make_alert(), make_service(service_repo), config)

    assert proposal.denials == []
    results = tool_results(model_env)
    assert "ANTHROPIC_BASE_URL=" in results  # the environment was printed, twice
    assert results.count("ANTHROPIC_BASE_URL=") == 2
    assert MODEL_KEY not in results
    assert "ghp_worker_token_never_in_the_sandbox" not in results
    assert "PRIVATE-KEY-OF-THE-WORKER" not in results
    assert "worker-dir-secret" not in results
    assert results.count("unreadable") == 2


async def test_asking_to_leave_the_sandbox_is_refused_and_recorded(
    model_env: ModelServer, service_repo: Path
) -> None:
    module = "open('ran-outside.txt', 'w').write('x')\n"
    model_env.play(
        Turn([tool("Write", file_path="hostile.py", content=module)]),
        Turn([tool("Bash", command=RUN, dangerouslyDisableSandbox=True)]),
        Turn([DONE]),
    )
    proposal = await propose_fix(make_alert(), make_service(service_repo), bash_config())

    assert [(d.tool, d.target, d.reason) for d in proposal.denials] == [
        ("Bash", RUN, "commands never run outside the sandbox")
    ]
    assert proposal.files_changed == ["hostile.py"]


@pytest.mark.parametrize(
    "path",
    [
        "conftest.py",
        "tests/unit/conftest.py",
        "sitecustomize.py",
        "usercustomize.py",
        "lib/x.pth",
        "pytest.py",
        "pyproject.toml",
        "setup.cfg",
        "tox.ini",
        "Makefile",
        ".pre-commit-config.yaml",
        "package.json",
        ".npmrc",
        ".bashrc",
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
    ],
)
def test_files_that_run_on_test_or_ci_are_always_protected(path: str) -> None:
    assert is_protected(path, []) is not None
    assert FixerConfig(protected_paths=[]).protected_paths == []


def test_ordinary_source_files_stay_editable() -> None:
    for path in ("app.py", "src/shop/handlers.py", "tests/unit/test_app.py", "docs/x.md"):
        assert is_protected(path, []) is None


async def test_writes_of_files_that_run_on_test_runs_are_denied_and_recorded(
    model_env: ModelServer, service_repo: Path
) -> None:
    planted = ["conftest.py", "sub/conftest.py", "sitecustomize.py", "x.pth", "pytest.py"]
    model_env.play(
        *[Turn([tool("Write", file_path=p, content="import os\n")]) for p in planted],
        Turn([DONE]),
    )
    proposal = await propose_fix(
        make_alert(), make_service(service_repo), FixerConfig(protected_paths=[])
    )

    assert proposal.status is FixStatus.NO_FIX
    assert [d.tool for d in proposal.denials] == ["Write"] * len(planted)
    assert [d.target.split("/repo/", 1)[1] for d in proposal.denials] == planted
    assert all(d.reason.startswith("path is protected (") for d in proposal.denials)
    assert proposal.denials[3].reason == "path is protected (*.pth)"


def _without_sandbox_tools(tmp_path: Path, broken_bwrap: bool) -> str:
    """A PATH without bubblewrap, or with one that cannot start a sandbox."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if broken_bwrap:
        script = bin_dir / "bwrap"
        script.write_text(
            "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
        )
        script.chmod(0o755)
        (bin_dir / "socat").symlink_to("/bin/true")
    return f"{bin_dir}{os.pathsep}/nonexistent"


@pytest.mark.parametrize(
    ("broken_bwrap", "detail"),
    [
        (False, "bwrap, socat not found on PATH"),
        (True, "bwrap failed (exit 1): bwrap: No permissions to create new namespace"),
    ],
)
async def test_without_a_working_sandbox_bash_is_not_offered(
    model_env: ModelServer,
    service_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    broken_bwrap: bool,
    detail: str,
) -> None:
    monkeypatch.setenv("PATH", _without_sandbox_tools(tmp_path, broken_bwrap))
    model_env.play(Turn([tool("Bash", command=RUN)]), Turn([DONE]))
    proposal = await propose_fix(make_alert(), make_service(service_repo), bash_config())

    assert "Bash" not in model_env.tools_offered()
    assert model_env.tools_offered() == {"Read", "Write"}
    assert proposal.sandbox.startswith("Bash was not offered: the OS sandbox is unavailable")
    assert proposal.sandbox.endswith(f"({detail})")
    assert [(d.tool, d.reason) for d in proposal.denials] == [
        ("Bash", "tool Bash is not allowed in a fix session")
    ]
    assert "Bash was not offered" in proposal_comment(proposal)


def test_probe_reports_why_the_sandbox_is_unavailable(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert probe_sandbox(path=str(empty)) == SandboxCheck(False, "bwrap, socat not found on PATH")
    broken = probe_sandbox(path=_without_sandbox_tools(tmp_path, broken_bwrap=True))
    assert not broken.available
    assert broken.detail == "bwrap failed (exit 1): bwrap: No permissions to create new namespace"


def test_probe_finds_the_installed_bubblewrap() -> None:
    check = probe_sandbox()
    assert check.available, check.detail
    assert check.detail.startswith("bubblewrap at /")
