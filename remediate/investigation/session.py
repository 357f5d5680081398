"""The investigation session: the bundled Claude Code CLI with no built-in tool at all.

``tools=[]`` hides every built-in tool (no file, Bash or web access); the only tools the
model sees are the in-process MCP tools of the ``Toolbox`` and ``submit_investigation``.
The environment, private HOME, ``setting_sources=[]`` and the limits on turns, spend and
time are the fix session's (``remediate/fixer/session.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    ClaudeAgentOptions,
    ResultMessage,
    SdkMcpTool,
    create_sdk_mcp_server,
    query,
)
from pydantic import ValidationError

from remediate.fixer.session import failure_reason, run_within, session_env, token_counts
from remediate.investigation.config import InvestigationConfig
from remediate.investigation.submission import Submission, submission_schema
from remediate.investigation.tools import Toolbox, wire_schema

SERVER = "investigate"
SUBMIT = "submit_investigation"


@dataclass
class InvestigationSession:
    ok: bool = False
    reason: str = ""
    submission: Submission | None = None
    turns: int = 0
    duration_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    stderr: list[str] = field(default_factory=list)


def _answer(text: str, error: bool) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "is_error": error}


def mcp_tools(toolbox: Toolbox, session: InvestigationSession) -> list[SdkMcpTool[Any]]:
    tools: list[SdkMcpTool[Any]] = []
    for name, (description, inputs, _) in toolbox.handlers.items():

        async def handler(args: dict[str, Any], name: str = name) -> dict[str, Any]:
            call = await toolbox.call(name, args)
            return _answer(f"[{call.id}] {call.output}", error=call.refused)

        tools.append(SdkMcpTool(name, description, wire_schema(inputs), handler))

    async def submit(args: dict[str, Any]) -> dict[str, Any]:
        if session.submission is not None:
            return _answer("an investigation was already submitted", error=True)
        try:
            session.submission = Submission.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
            )
            toolbox.record(SUBMIT, {}, output=f"refused: {problems}", ok=False, refused=True)
            return _answer(f"refused: {problems}", error=True)
        return _answer("investigation received; end the session now", error=False)

    tools.append(
        SdkMcpTool(SUBMIT, "Submit the finished investigation.", submission_schema(), submit)
    )
    return tools


def allowed_names(tools: list[SdkMcpTool[Any]]) -> list[str]:
    return [f"mcp__{SERVER}__{t.name}" for t in tools]


async def run_investigation_session(
    home: Path,
    prompt: str,
    system_prompt: str,
    config: InvestigationConfig,
    credential: str,
    toolbox: Toolbox,
) -> InvestigationSession:
    session = InvestigationSession()
    tools = mcp_tools(toolbox, session)
    options = ClaudeAgentOptions(
        tools=[],
        allowed_tools=allowed_names(tools),
        permission_mode="dontAsk",
        setting_sources=[],
        system_prompt=system_prompt,
        mcp_servers={SERVER: create_sdk_mcp_server(SERVER, tools=tools)},
        strict_mcp_config=True,
        cwd=str(home),
        env=session_env(credential, home),
        model=config.model,
        max_turns=config.max_turns,
        max_budget_usd=config.max_budget_usd,
        verbatim_prompts=True,
        stderr=lambda line: (
            session.stderr.append(line[:500]) if len(session.stderr) < 200 else None
        ),
    )
    started = time.monotonic()
    final: ResultMessage | None = None

    async def consume() -> None:
        nonlocal final
        async for message in query(prompt=prompt, options=options):
            if isinstance(message, ResultMessage):
                final = message

    session.reason = await run_within(consume, config.timeout_s)
    session.duration_s = time.monotonic() - started
    if final is not None:
        session.turns = final.num_turns
        session.cost_usd = float(final.total_cost_usd or 0.0)
        session.input_tokens, session.output_tokens = token_counts(final)
        if final.is_error:
            session.reason = failure_reason(final, config.max_turns, config.max_budget_usd)
    elif not session.reason:
        session.reason = "the session ended without a result"
    if session.submission is None and not session.reason:
        session.reason = "the model did not submit an investigation"
    session.ok = session.submission is not None
    return session
