"""Small service repositories for fix-proposal tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

APP = 'TIMEOUT_S = 0.001\n\n\ndef handler():\n    return "ok"\n'


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def make_bare_repo(root: Path, name: str = "service") -> Path:
    """A bare repository (branch main) holding a tiny app, CI config and a symlink out."""
    work = root / f"{name}-work"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main")
    (work / "app.py").write_text(APP)
    (work / ".github" / "workflows").mkdir(parents=True)
    (work / ".github" / "workflows" / "x.yml").write_text("on: push\n")
    (work / "outside").symlink_to("/etc")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial")
    bare = root / f"{name}.git"
    git(root, "clone", "-q", "--bare", str(work), str(bare))
    return bare


@pytest.fixture
def service_repo(tmp_path: Path) -> Path:
    return make_bare_repo(tmp_path)
