"""Catalog sections for the fix proposal and the approval gate."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

ToolName = Literal["Read", "Grep", "Glob", "Edit", "Write", "Bash"]


def _default_tools() -> list[ToolName]:
    return ["Read", "Grep", "Glob", "Edit", "Write"]


# Never writable by the model, whatever the catalog says: git's own files, secrets, and every
# file a test run, a package manager, CI or a shell executes or reads as configuration. A
# test command the catalog allows would otherwise run code the model planted there.
ALWAYS_PROTECTED = (
    ".git",
    ".git/**",
    ".env*",
    "**/*.pem",
    "**/*.key",
    # CI and repository automation
    ".github/**",
    ".gitlab-ci.yml",
    ".gitlab/**",
    ".circleci/**",
    ".buildkite/**",
    "Jenkinsfile",
    "azure-pipelines.yml",
    ".travis.yml",
    ".pre-commit-config.yaml",
    ".gitattributes",
    ".gitmodules",
    ".claude/**",
    "CLAUDE.md",
    # Python: the test runner's plugins and configuration, code run at interpreter start
    "conftest.py",
    "pytest.ini",
    "tox.ini",
    "setup.cfg",
    "setup.py",
    "pyproject.toml",
    "noxfile.py",
    "sitecustomize.py",
    "usercustomize.py",
    "*.pth",
    "pytest.py",
    "_pytest/**",
    "pip.conf",
    # JavaScript and other build tools
    "package.json",
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    "Makefile",
    "GNUmakefile",
    "makefile",
    "*.mk",
    "Rakefile",
    "build.gradle",
    "build.gradle.kts",
    "pom.xml",
    "Cargo.toml",
    "build.rs",
    "Dockerfile",
    ".envrc",
    # shell start-up files
    ".bashrc",
    ".bash_profile",
    ".profile",
    ".zshrc",
    ".zshenv",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FixerConfig(_Strict):
    enabled: bool = True
    model: str = Field(default="claude-sonnet-4-5", min_length=1, max_length=100)
    credential_env: str = Field(default="ANTHROPIC_API_KEY", pattern=r"^[A-Z_][A-Z0-9_]*$")
    tools: list[ToolName] = Field(
        default_factory=_default_tools,
        description="Built-in tools the model sees; Bash needs test_commands.",
    )
    test_commands: list[str] = Field(
        default_factory=list,
        description="Exact Bash command lines the model may run (nothing else).",
    )
    protected_paths: list[str] = Field(
        default_factory=list,
        description=(
            "Glob patterns, relative to the repository root, the model may not touch, "
            "in addition to ALWAYS_PROTECTED (which the catalog cannot lift)."
        ),
    )
    max_turns: int = Field(default=30, ge=1, le=500)
    max_budget_usd: float = Field(default=2.0, gt=0, le=1000)
    timeout_s: float = Field(default=900.0, gt=0, le=86_400)
    max_diff_bytes: int = Field(default=100_000, ge=1)
    max_files_changed: int = Field(default=20, ge=1)

    @model_validator(mode="after")
    def _bash_needs_commands(self) -> Self:
        if "Bash" in self.tools and not self.test_commands:
            raise ValueError("tools lists Bash but test_commands is empty")
        for command in self.test_commands:
            if not command.strip() or re.search(r"[\n\r\x00]", command):
                raise ValueError(f"test command {command!r} must be one non-empty line")
        return self
