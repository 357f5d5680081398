"""One Claude Code session (the CLI bundled with claude-agent-sdk) in a checkout.

The CLI's environment holds the model credential and nothing else secret: every other
inherited variable is blanked, HOME and the CLI's config directory are private to the run.
Tools are limited to the ones the guard offers; a PreToolUse hook sends every call through
the ``ToolGuard`` and only the calls it allows run (``dontAsk`` denies whatever no rule
allows). When Bash is offered it runs only inside the OS sandbox (``sandbox.py``); what the
sandbox blocked is collected from the tool results.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from claude_agent_sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKError,
    HookMatcher,
    ResultMessage,
    SandboxSettings,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    query,
)
from claude_agent_sdk.types import HookContext, HookInput, SyncHookJSONOutput

from remediate.fixer.config import FixerConfig
from remediate.fixer.guard import ToolGuard
from remediate.fixer.sandbox import sandbox_settings

PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "ANTHROPIC_BASE_URL")
QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    # an overloaded (529) or failing (5xx) model API is asked twice more, with the CLI's own
    # backoff (~1-3 s); the session's wall-clock limit bounds every wait, a hung request too
    "CLAUDE_CODE_MAX_RETRIES": "2",
}


@dataclass
class SessionResult:
    ok: bool
    reason: str = ""
    answer: str = ""
    turns: int = 0
    duration_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    stderr: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


VIOLATIONS = re.compile(r"<sandbox_violations>(.*?)</sandbox_violations>", re.DOTALL)
MAX_VIOLATIONS = 50


def sandbox_violations(block: ToolResultBlock) -> list[str]:
    """The lines of the ``<sandbox_violations>`` report the CLI appends to a Bash result."""
    content = block.content
    if isinstance(content, list):
        content = "\n".join(str(part.get("text", "")) for part in content)
    found: list[str] = []
    for report in VIOLATIONS.findall(content or ""):
        found += [line.strip()[:300] for line in report.splitlines() if line.strip()]
    return found


def session_env(credential: str, home: Path) -> dict[str, str]:
    """Blank every inherited variable except a few harmless ones, then add ours."""
    env = {key: "" for key in os.environ if key not in PASSED_THROUGH}
    env |= {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
    config_dir = home / ".claude"
    config_dir.mkdir(parents=True, exist_ok=True)
    tmp = home / "tmp"
    tmp.mkdir(exist_ok=True)
    env |= QUIET | {
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "TMPDIR": str(tmp),
        "ANTHROPIC_API_KEY": credential,
    }
    return env


def _guard_hook(guard: ToolGuard) -> Any:
    async def hook(
        hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> SyncHookJSONOutput:
        name = str(hook_input.get("tool_name", ""))
        raw = hook_input.get("tool_input")
        tool_input: dict[str, Any] = raw if isinstance(raw, dict) else {}
        reason = guard.check(name, tool_input)
        decision: SyncHookJSONOutput = {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny" if reason else "allow",
                "permissionDecisionReason": reason or "allowed by the remediation rules",
            }
        }
        return decision

    return hook


def failure_reason(message: ResultMessage, max_turns: int, max_budget_usd: float) -> str:
    """Why a session ended in error, in words; shared by every model session of the project."""
    subtype = message.subtype
    if subtype == "error_max_turns":
        return f"turn limit reached ({max_turns} turns)"
    if subtype == "error_max_budget_usd":
        return f"budget limit reached (USD {max_budget_usd:g})"
    detail = (message.result or "; ".join(message.errors or []) or subtype)[:500]
    if message.api_error_status:
        return f"model API error (HTTP {message.api_error_status}): {detail}"
    if detail.startswith("API Error"):
        return f"model API error: {detail}"
    return f"session ended with {subtype}: {detail}"


async def run_within(consume: Callable[[], Awaitable[None]], timeout_s: float) -> str:
    """Run a session's message loop under a wall-clock limit; the reason it ended early."""
    try:
        await asyncio.wait_for(consume(), timeout=timeout_s)
    except TimeoutError:
        return f"no result within the {timeout_s:g} s time limit"
    except ClaudeSDKError as exc:
        return f"model session failed: {str(exc).splitlines()[0][:500]}"
    return ""


def token_counts(final: ResultMessage) -> tuple[int, int]:
    """(input tokens, cache reads and writes included; output tokens) of a session."""
    usage = final.usage or {}
    inputs = sum(
        int(usage.get(key, 0) or 0)
        for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    )
    return inputs, int(usage.get("output_tokens", 0) or 0)


async def run_session(
    checkout: Path,
    home: Path,
    prompt: str,
    system_prompt: str,
    config: FixerConfig,
    credential: str,
    guard: ToolGuard,
) -> SessionResult:
    stderr: list[str] = []
    bash = "Bash" in guard.tools
    sandbox = sandbox_settings(checkout, config.credential_env) if bash else None
    options = ClaudeAgentOptions(
        tools=[name for name in config.tools if name in guard.tools],
        allowed_tools=[],
        permission_mode="dontAsk",
        setting_sources=[],
        system_prompt=system_prompt,
        hooks={"PreToolUse": [HookMatcher(matcher=None, hooks=[_guard_hook(guard)])]},
        cwd=str(checkout),
        env=session_env(credential, home),
        model=config.model,
        max_turns=config.max_turns,
        max_budget_usd=config.max_budget_usd,
        strict_mcp_config=True,
        verbatim_prompts=True,
        sandbox=cast(SandboxSettings, sandbox),
        stderr=lambda line: stderr.append(line[:500]) if len(stderr) < 200 else None,
    )
    started = time.monotonic()
    result = SessionResult(ok=False, stderr=stderr)
    last_text = ""
    final: ResultMessage | None = None

    async def consume() -> None:
        nonlocal last_text, final
        async for message in query(prompt=prompt, options=options):
            if isinstance(message, AssistantMessage):
                for block in message.content:
                    if isinstance(block, ToolUseBlock) and block.name not in guard.tools:
                        guard.check(block.name, block.input)
                texts = [b.text for b in message.content if isinstance(b, TextBlock)]
                if texts:
                    last_text = "\n".join(texts)
            elif isinstance(message, UserMessage) and isinstance(message.content, list):
                for block in message.content:
                    if isinstance(block, ToolResultBlock):
                        found = sandbox_violations(block)
                        room = MAX_VIOLATIONS - len(result.violations)
                        result.violations += found[: max(room, 0)]
            elif isinstance(message, ResultMessage):
                final = message

    result.reason = await run_within(consume, config.timeout_s)
    result.duration_s = time.monotonic() - started
    if final is not None:
        result.turns = final.num_turns
        result.cost_usd = float(final.total_cost_usd or 0.0)
        result.input_tokens, result.output_tokens = token_counts(final)
        result.answer = (final.result or last_text) if not final.is_error else last_text
        if final.is_error:
            result.reason = failure_reason(final, config.max_turns, config.max_budget_usd)
        elif not result.reason:
            result.ok = True
    elif not result.reason:
        result.reason = "the session ended without a result"
    return result
