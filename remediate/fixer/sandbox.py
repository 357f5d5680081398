"""The OS sandbox every Bash command of a fix session runs in, and the check that it works.

Claude Code runs Bash under bubblewrap (``bwrap``, with ``socat`` bridging its network
proxy) when the session's settings enable its sandbox. Here the sandbox has no network,
writes only to the checkout (never its ``.git``), cannot read the worker's home or working
directory, and sees no model credential. Commands may not leave it: no excluded commands,
no ``dangerouslyDisableSandbox``, and the CLI refuses Bash if the sandbox fails to start.
When the probe below fails, the session is not offered Bash at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE_TIMEOUT_S = 10.0
NEEDED = ("bwrap", "socat")


@dataclass(frozen=True)
class SandboxCheck:
    available: bool
    detail: str


def probe_sandbox(path: str | None = None) -> SandboxCheck:
    """Whether bubblewrap can start an isolated command here, on ``path`` (default: PATH)."""
    search = os.environ.get("PATH", "") if path is None else path
    found = {name: shutil.which(name, path=search) for name in NEEDED}
    missing = [name for name, where in found.items() if where is None]
    if missing:
        return SandboxCheck(False, f"{', '.join(missing)} not found on PATH")
    bwrap = str(found["bwrap"])
    argv = [
        bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--clearenv",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "true",
    ]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxCheck(False, f"bwrap could not run: {type(exc).__name__}: {exc}"[:300])
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip()[-300:]
        return SandboxCheck(False, f"bwrap failed (exit {done.returncode}): {detail}")
    return SandboxCheck(True, f"bubblewrap at {bwrap}")


def unreadable_dirs(checkout: Path) -> list[str]:
    """The worker's home and working directory, unless the checkout lies inside one."""
    checkout = checkout.resolve()
    dirs = []
    for raw in (Path.home(), Path.cwd()):
        place = raw.resolve()
        if place == Path("/") or checkout.is_relative_to(place):
            continue
        dirs.append(str(place))
    return sorted(set(dirs))


def sandbox_settings(checkout: Path, credential_env: str) -> dict[str, Any]:
    """Claude Code's ``sandbox`` settings for a session in ``checkout``.

    Beyond the keys ``claude_agent_sdk.SandboxSettings`` types, the CLI reads
    ``failIfUnavailable``, ``filesystem`` and ``credentials``; so this is a plain dict.
    """
    checkout = checkout.resolve()
    return {
        "enabled": True,
        "failIfUnavailable": True,
        "autoAllowBashIfSandboxed": False,
        "allowUnsandboxedCommands": False,
        "excludedCommands": [],
        "enableWeakerNestedSandbox": False,
        "network": {"allowedDomains": [], "allowUnixSockets": [], "allowLocalBinding": False},
        "filesystem": {
            "denyWrite": [str(checkout / ".git")],
            "denyRead": unreadable_dirs(checkout),
        },
        "credentials": {
            "envVars": [
                {"name": name, "mode": "deny"}
                for name in sorted({credential_env, "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"})
            ]
        },
    }
