"""Git with a minimal environment: no user or system config, no prompts, no hooks.

A token is handed to git as an ``http.<origin>.extraHeader`` through ``GIT_CONFIG_*``
environment variables, so it never appears in argv, in ``.git/config`` or in a log.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

SAFE_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "user.name=remediate",
    "-c",
    "user.email=remediate@localhost",
)


TRUST_VARIABLES = ("GIT_SSL_CAINFO", "GIT_SSL_CAPATH")


class GitError(Exception):
    pass


def sends_token_safely(url: str) -> bool:
    """HTTPS, or plain HTTP to this machine only: a token never crosses a network in clear."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def git_env(home: Path, url: str | None = None, token: str | None = None) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    # the certificate authorities to trust for HTTPS remotes, when the operator names them
    env |= {name: os.environ[name] for name in TRUST_VARIABLES if os.environ.get(name)}
    if token and url and sends_token_safely(url):
        parts = urlsplit(url)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{parts.scheme}://{parts.netloc}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    return env


def run_git(args: list[str], cwd: Path | None, env: dict[str, str], timeout: float = 300) -> str:
    try:
        done = subprocess.run(
            ["git", *SAFE_CONFIG, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} gave no answer within {timeout:.0f} s") from exc
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip()[-2000:]
        raise GitError(f"git {args[0]} failed (exit {done.returncode}): {detail}")
    return done.stdout.decode(errors="replace")


def branch_name(alert_id: str) -> str:
    """``remediate/<alert id>`` with everything git or a shell might mind replaced."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", alert_id)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip(".-")[:80].rstrip(".-")
    if cleaned.endswith(".lock"):
        cleaned = cleaned[: -len(".lock")]
    if cleaned != alert_id or not cleaned:
        digest = hashlib.sha256(alert_id.encode()).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}" if cleaned else digest
    return f"remediate/{cleaned}"


def clone(
    url: str,
    branch: str,
    dest: Path,
    env: dict[str, str],
    timeout: float = 300,
    shallow: bool = True,
) -> str:
    """Clone ``branch`` of ``url`` into ``dest``; returns the commit it is at."""
    depth = ["--depth", "1"] if shallow else []
    args = ["clone", "--quiet", *depth, "--single-branch", "--no-tags", "--branch", branch]
    run_git([*args, "--", url, str(dest)], None, env, timeout)
    return run_git(["rev-parse", "HEAD"], dest, env).strip()


def staged_diff(checkout: Path, env: dict[str, str]) -> str:
    """The staged diff, byte for byte the same wherever the same change is staged."""
    return run_git(
        ["diff", "--cached", "--binary", "--no-color", "--no-ext-diff", "--no-textconv"],
        checkout,
        env,
    )


def diff_sha256(diff: str) -> str:
    return hashlib.sha256(diff.encode("utf-8")).hexdigest()


def staged_changes(checkout: Path, env: dict[str, str]) -> tuple[str, list[str]]:
    """Stage everything in the working tree; returns the diff and the changed paths."""
    run_git(["add", "--all"], checkout, env)
    diff = staged_diff(checkout, env)
    names = run_git(["diff", "--cached", "--name-only", "--no-renames", "-z"], checkout, env)
    return diff, [n for n in names.split("\0") if n]
