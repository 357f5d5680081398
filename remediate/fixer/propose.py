"""Propose a fix: clone, let the model edit under the guard, judge the diff git computes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from remediate.alerts import Alert
from remediate.catalog import Service
from remediate.diagnosis.models import Diagnosis, Verification
from remediate.fixer.config import FixerConfig
from remediate.fixer.git import GitError, branch_name, clone, git_env, run_git, staged_changes
from remediate.fixer.guard import ToolGuard, is_protected
from remediate.fixer.models import FixProposal, FixStatus, skipped
from remediate.fixer.prompt import SYSTEM_PROMPT, build_prompt, parse_answer, parse_risk
from remediate.fixer.sandbox import probe_sandbox


def judge_diff(diff: str, files: list[str], config: FixerConfig) -> tuple[FixStatus, str]:
    if not diff.strip():
        return FixStatus.NO_FIX, "the session changed no file"
    for name in files:
        pattern = is_protected(name, config.protected_paths)
        if pattern is not None:
            return FixStatus.REFUSED, f"the change touches protected path {name} ({pattern})"
    size = len(diff.encode())
    if size > config.max_diff_bytes:
        return (
            FixStatus.REFUSED,
            f"the diff is {size} bytes, over the {config.max_diff_bytes} limit",
        )
    if len(files) > config.max_files_changed:
        return (
            FixStatus.REFUSED,
            f"{len(files)} files changed, over the {config.max_files_changed} limit",
        )
    return FixStatus.PROPOSED, ""


def offered_tools(config: FixerConfig) -> tuple[list[str], str]:
    """The tools the session gets, and what the proposal says about the Bash sandbox.

    Bash is offered only when bubblewrap works here; it is never run outside the sandbox.
    """
    tools: list[str] = list(config.tools)
    if "Bash" not in tools:
        return tools, ""
    check = probe_sandbox()
    if not check.available:
        tools.remove("Bash")
        return tools, f"Bash was not offered: the OS sandbox is unavailable ({check.detail})"
    return tools, f"Bash ran only in the OS sandbox ({check.detail})"


def skip_reason(alert: Alert, service: Service | None, config: FixerConfig) -> str | None:
    """Why no fix proposal can start for ``alert``; None when a model session would."""
    if not config.enabled:
        return "fix proposals are disabled in the catalog"
    if service is None:
        return f"check {alert.check_id} matches no catalog service"
    if service.repository is None:
        return f"service {service.name} has no repository in the catalog"
    if not os.environ.get(config.credential_env, ""):
        return f"no model credential: {config.credential_env} is not set"
    return None


async def propose_fix(
    alert: Alert,
    service: Service | None,
    config: FixerConfig,
    verification: Verification | None = None,
    diagnosis: Diagnosis | None = None,
    evidence: str | None = None,
    investigation: str | None = None,
    git_token: str | None = None,
    related: Sequence[tuple[str, str]] = (),
) -> FixProposal:
    reason = skip_reason(alert, service, config)
    if reason is not None:
        return skipped(reason)
    assert service is not None and service.repository is not None
    repository = service.repository
    credential = os.environ[config.credential_env]

    branch = branch_name(alert.id)
    with tempfile.TemporaryDirectory(prefix="remediate-fix-") as scratch:
        root = Path(scratch)
        checkout, model_home, git_home = root / "repo", root / "model-home", root / "git-home"
        model_home.mkdir()
        git_home.mkdir()
        env = git_env(git_home, repository.git_url, git_token)
        try:
            base = clone(repository.git_url, repository.default_branch, checkout, env)
            run_git(["checkout", "--quiet", "-b", branch], checkout, env)
        except GitError as exc:
            return FixProposal(
                status=FixStatus.FAILED, reason=f"cannot clone the repository: {exc}"
            )
        local_env = git_env(git_home)
        tools, sandbox_note = offered_tools(config)
        guard = ToolGuard(checkout, tools, config.protected_paths, config.test_commands)
        # Imported here: the SDK takes about a second to import, and most runs never get here.
        from remediate.fixer.session import run_session

        session = await run_session(
            checkout,
            model_home,
            build_prompt(alert, verification, diagnosis, evidence, investigation, related),
            SYSTEM_PROMPT,
            config,
            credential,
            guard,
        )
        try:
            diff, files = staged_changes(checkout, local_env)
        except GitError as exc:
            return FixProposal(status=FixStatus.FAILED, reason=f"cannot read the change: {exc}")

    answer = parse_answer(session.answer)
    if session.ok:
        status, reason = judge_diff(diff, files, config)
    else:
        status, reason = FixStatus.FAILED, session.reason
    return FixProposal(
        status=status,
        reason=reason,
        summary=answer.get("summary", ""),
        rationale=answer.get("rationale", ""),
        checked=answer.get("checked", ""),
        risk=parse_risk(answer.get("risk")),
        branch=branch,
        base_commit=base,
        files_changed=files,
        diff=diff,
        denials=guard.denials,
        sandbox=sandbox_note,
        sandbox_violations=session.violations,
        turns=session.turns,
        duration_s=round(session.duration_s, 3),
        input_tokens=session.input_tokens,
        output_tokens=session.output_tokens,
        cost_usd=session.cost_usd,
        model=config.model,
    )
