"""The rules every tool call of a fix session passes through, whatever the model asks.

A call is allowed only when its tool is offered, every path it names resolves (symlinks
followed) inside the checkout and outside the protected paths, and a Bash command is one
of the catalog's exact test commands asking for no way out of the OS sandbox. Everything
else is denied and recorded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from remediate.fixer.config import ALWAYS_PROTECTED
from remediate.fixer.models import ToolDenial

PATH_KEYS = {
    "Read": ("file_path",),
    "Edit": ("file_path",),
    "Write": ("file_path",),
    "Grep": ("path",),
    "Glob": ("path",),
}
PATTERN_KEYS = {"Grep": ("glob",), "Glob": ("pattern",)}


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    anchored = "/" in pattern.rstrip("/")
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out).rstrip("/")
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{body}(?:/.*)?$")


def is_protected(relative: str, patterns: Iterable[str]) -> str | None:
    """The first pattern matching ``relative`` (a POSIX path inside the repository)."""
    relative = relative.lstrip("/")
    for pattern in (*ALWAYS_PROTECTED, *patterns):
        if _glob_regex(pattern.lstrip("/")).match(relative):
            return pattern
    return None


class ToolGuard:
    def __init__(
        self,
        root: Path,
        tools: Iterable[str],
        protected: Iterable[str],
        test_commands: Iterable[str],
    ) -> None:
        self.root = root.resolve()
        self.tools = set(tools)
        self.protected = tuple(protected)
        self.test_commands = set(test_commands)
        self.denials: list[ToolDenial] = []

    def _deny(self, tool: str, target: str, reason: str) -> str:
        self.denials.append(ToolDenial(tool=tool, target=target[:500], reason=reason))
        return reason

    def relative(self, raw: str) -> str | None:
        """The path inside the checkout that ``raw`` really names, or None if outside."""
        candidate = Path(raw)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        resolved = Path(os.path.realpath(candidate))
        try:
            return resolved.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def check(self, tool: str, tool_input: dict[str, Any]) -> str | None:
        """None when the call may run, else the reason it is denied (also recorded)."""
        if tool not in self.tools:
            return self._deny(tool, "", f"tool {tool} is not allowed in a fix session")
        if tool == "Bash":
            command = str(tool_input.get("command", ""))
            if command not in self.test_commands:
                return self._deny(tool, command, "only the catalog's exact test commands may run")
            if tool_input.get("dangerouslyDisableSandbox"):
                return self._deny(tool, command, "commands never run outside the sandbox")
            return None
        for key in PATTERN_KEYS.get(tool, ()):
            value = tool_input.get(key)
            if isinstance(value, str) and (value.startswith(("/", "~")) or ".." in value):
                return self._deny(tool, value, f"{key} must be relative and stay in the checkout")
        for key in PATH_KEYS.get(tool, ()):
            value = tool_input.get(key)
            if value is None and tool in ("Grep", "Glob"):
                continue
            if not isinstance(value, str) or not value:
                return self._deny(tool, str(value), f"{key} is missing")
            relative = self.relative(value)
            if relative is None:
                return self._deny(tool, value, "path is outside the checkout")
            pattern = is_protected(relative, self.protected)
            if pattern is not None:
                return self._deny(tool, value, f"path is protected ({pattern})")
        return None
