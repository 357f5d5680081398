"""Which decision a suspended run waits for, read from the run as the Prefect API returns
it: the suspension key (``fix-approval``, ``action-approval``, ``capacity-approval-<hash>``,
each with ``-2``, ``-3``... for a round after a refusal) and what it decides, in words a
reply can name ("fix", "runbook action `restart`", "rollback ...")."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from remediate.markdown import inline
from remediate.runs.tags import Key, tag_value

FIX_KEY = "fix-approval"
ACTION_KEY = "action-approval"
CAPACITY_PREFIX = "capacity-approval-"
_SCHEMA = re.compile(r"^(?:paused|suspended)-(?P<key>[a-z0-9-]+)-schema$")
_ROUND = re.compile(
    rf"^(?P<base>{FIX_KEY}|{ACTION_KEY}|{CAPACITY_PREFIX}[0-9a-f]{{12}})(?:-(?P<round>\d+))?$"
)


class WaitingDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    key: str
    """The suspension key the run waits under now."""
    base_key: str
    """The key of the first round (what a notification's buttons name)."""
    subject: str
    """Markdown: what the decision is about."""

    @property
    def has_diff(self) -> bool:
        return self.base_key == FIX_KEY


def suspension_key(state: dict[str, Any]) -> str | None:
    keyset = (state.get("state_details") or {}).get("run_input_keyset") or {}
    match = _SCHEMA.match(str(keyset.get("schema") or ""))
    return match.group("key") if match else None


def base_of(key: str) -> str | None:
    """The first round's key of ``key``; None for a key no decision channel handles."""
    match = _ROUND.match(key)
    return match.group("base") if match else None


def _subject(base_key: str, tags: list[str]) -> str:
    if base_key == FIX_KEY:
        return "fix"
    action = tag_value(tags, Key.ACTION)
    named = f"runbook action `{inline(action, 100)}`" if action else "runbook action"
    if base_key.startswith(CAPACITY_PREFIX):
        return f"capacity {named}"
    target = tag_value(tags, Key.ROLLBACK_TO)
    if tag_value(tags, Key.ROLLBACK) == "proposed" and target:
        return f"rollback to release `{inline(target, 100)}` ({named})"
    color = tag_value(tags, Key.SWITCH_TO)
    if tag_value(tags, Key.SWITCH) == "proposed" and color:
        return f"blue-green switch to `{inline(color, 100)}` ({named})"
    return named


def waiting_decision(run: dict[str, Any]) -> WaitingDecision | None:
    """The decision ``run`` waits for, if it is suspended for one."""
    state = run.get("state") or {}
    if state.get("type") != "PAUSED":
        return None
    key = suspension_key(state)
    base = base_of(key) if key else None
    if key is None or base is None:
        return None
    tags = [str(t) for t in run.get("tags") or []]
    return WaitingDecision(
        run_id=str(run["id"]), key=key, base_key=base, subject=_subject(base, tags)
    )
