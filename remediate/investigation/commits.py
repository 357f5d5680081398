"""The recent commits of a service's repository, read from a fresh shallow clone.

Git runs with argument lists only and the fixer's minimal environment (no user or system
configuration, no hooks, no prompts; a token travels as an HTTP header through the
environment, never in argv). The clone is bare, without file contents
(``--filter=blob:none`` where the server allows it) and only as deep as needed; it is
deleted afterwards. Nothing the model sends takes part in a git command: the only input
is how many commits to show, an integer bounded by the catalog.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from remediate.catalog import Repository
from remediate.fixer.git import GitError, git_env, run_git

MAX_FILES_SHOWN = 20
_HASH = re.compile(r"^[0-9a-f]{40,64}$")


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str
    subject: str
    files: list[str]

    def text(self) -> str:
        shown = ", ".join(self.files[:MAX_FILES_SHOWN]) or "no files"
        more = len(self.files) - MAX_FILES_SHOWN
        if more > 0:
            shown += f" (+{more} more)"
        return f"{self.sha[:12]} {self.date} {self.author}: {self.subject}\n  files: {shown}"


def _one(bare: Path, sha: str, env: dict[str, str]) -> Commit:
    head = run_git(["show", "-s", "--format=%an%x00%aI%x00%s", sha, "--"], bare, env, 30)
    author, date, subject = [*head.rstrip("\n").split("\0", 2), "", ""][:3]
    names = run_git(
        ["diff-tree", "-r", "--root", "--no-commit-id", "--name-only", "--no-renames", "-z", sha],
        bare,
        env,
        30,
    )
    return Commit(
        sha=sha,
        author=author[:100],
        date=date,
        subject=subject[:300],
        files=[name for name in names.split("\0") if name],
    )


def read_commits(repository: Repository, count: int, token: str | None) -> list[Commit]:
    """The newest ``count`` commits of the default branch, newest first."""
    with tempfile.TemporaryDirectory(prefix="remediate-commits-") as scratch:
        home = Path(scratch)
        bare = home / "repo.git"
        env = git_env(home, repository.git_url, token)
        run_git(
            [
                "clone",
                "--quiet",
                "--bare",
                "--filter=blob:none",
                "--depth",
                str(count + 1),
                "--single-branch",
                "--no-tags",
                "--branch",
                repository.default_branch,
                "--",
                repository.git_url,
                str(bare),
            ],
            None,
            env,
            120,
        )
        listed = run_git(["rev-list", "-n", str(count), "HEAD", "--"], bare, env, 30)
        shas = [line for line in listed.split() if _HASH.match(line)]
        return [_one(bare, sha, env) for sha in shas]


async def recent_commits(repository: Repository, count: int, token: str | None) -> list[Commit]:
    try:
        return await asyncio.to_thread(read_commits, repository, count, token)
    except GitError as exc:
        raise CommitsError(str(exc)) from None


class CommitsError(Exception):
    """The repository could not be read; the message is git's (redacted when shown)."""
