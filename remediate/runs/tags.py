"""The run-tag vocabulary: every tag a remediation run carries, built and parsed here.

Tags are the contract between the runs and everything that reads their history (the
gateway, occurrence counts, the remediation report, pattern detection, approval timeouts,
``remediate runs``). A tag is either a flag (``alert-resolved``) or ``key:value``
(``fingerprint:3f2a...``); writers build them with :func:`tag` and the flags below, readers
parse them with :func:`tag_value`, so a misspelt key fails at import time, not silently in a
history query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from uuid import UUID

from remediate.alerts import Alert

DEPLOYMENT = "remediate-alert/remediate-alert"


class Key(StrEnum):
    """Keys of ``key:value`` tags."""

    ALERT = "alert"
    CHECK = "check"
    SEVERITY = "severity"
    SERVICE = "service"
    FINGERPRINT = "fingerprint"
    VERDICT = "verdict"
    OCCURRENCES = "occurrences"
    FLAPPING_TRANSITIONS = "flapping-transitions"
    FLAPPING_WINDOW = "flapping-window-s"
    ISSUE = "issue"
    FIX = "fix"
    APPROVAL = "approval"
    ACTION = "action"
    ACTION_APPROVAL = "action-approval"
    ACTION_STATUS = "action-status"
    ROLLBACK = "rollback"
    ROLLBACK_FROM = "rollback-from"
    ROLLBACK_TO = "rollback-to"
    SWITCH = "switch"
    SWITCH_FROM = "switch-from"
    SWITCH_TO = "switch-to"
    RESOLVED_BEFORE = "resolved-before"
    INVESTIGATION = "investigation"
    INVESTIGATION_ACTION = "investigation-action"
    INVESTIGATION_COST = "investigation-cost-usd"
    INVESTIGATION_JUDGED = "investigation-judged"
    PUBLISH = "publish"
    PULL = "pull"
    RISK = "risk"
    SILENCE = "silence"
    STOPPED_BY = "stopped-by"
    WOULD = "would"
    CRASHES = "crashes"
    INCIDENT = "incident"
    INCIDENT_ROLE = "incident-role"
    CORRELATED_BY = "correlated-by"


class Flag(StrEnum):
    """Tags without a value."""

    REMEDIATE = "remediate"
    ALERT_RESOLVED = "alert-resolved"
    FLAPPING = "flapping"
    AWAITING_APPROVAL = "awaiting-approval"
    AWAITING_CAPACITY_APPROVAL = "awaiting-capacity-approval"
    SILENCED = "silenced"
    DRY_RUN = "dry-run"
    CRASHED_NEEDS_ATTENTION = "crashed-needs-attention"
    INCIDENT_CLOSED = "incident-closed"
    INCIDENT_EVIDENCE = "incident-evidence"


class Verdict(StrEnum):
    """Values of the ``approval:`` and ``action-approval:`` tags."""

    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed-out"


class Judged(StrEnum):
    """Values of the ``investigation-judged:`` tag: what an approver said of the
    investigation's leading hypothesis."""

    RIGHT = "right"
    WRONG = "wrong"


class Publish(StrEnum):
    """Values of the ``publish:`` tag: whether an approved fix reached its repository."""

    PUBLISHED = "published"
    FAILED = "failed"


class Control(StrEnum):
    """Values of the ``stopped-by:`` tag: the control that kept a step from running."""

    PAUSED = "automation-paused"
    ACTIONS_PER_HOUR = "actions-per-hour"
    FIX_PROPOSALS_PER_DAY = "fix-proposals-per-day"
    MODEL_SPEND_PER_DAY = "model-spend-per-day"


class Would(StrEnum):
    """Values of the ``would:`` tags of a dry run: what it would have done."""

    OPEN_ISSUE = "open-issue"
    PROPOSE_FIX = "propose-fix"
    RUN_ACTION = "run-action"
    ASK_APPROVAL = "ask-approval"
    ROLL_BACK = "roll-back"
    SWITCH = "switch"


class Stage(StrEnum):
    """Values of the ``resolved-before:`` tag: the step an alert resolved ahead of."""

    APPROVAL = "approval"
    ACTION = "action"


def tag(key: Key, value: object) -> str:
    """``key:value``; a float value is written without trailing zeros."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{key.value}:{text}"


def tag_value(tags: Iterable[str], key: Key) -> str | None:
    prefix = f"{key.value}:"
    return next((t[len(prefix) :] for t in tags if t.startswith(prefix)), None)


def tag_values(tags: Iterable[str], key: Key) -> list[str]:
    prefix = f"{key.value}:"
    return [t[len(prefix) :] for t in tags if t.startswith(prefix)]


def number_value(tags: Iterable[str], key: Key) -> float | None:
    value = tag_value(tags, key)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def alert_tags(alert: Alert) -> list[str]:
    """The identity tags every remediation run is created with."""
    tags = [
        Flag.REMEDIATE.value,
        tag(Key.ALERT, alert.id),
        tag(Key.CHECK, alert.check_id),
        tag(Key.SEVERITY, alert.severity.value),
        tag(Key.FINGERPRINT, alert.fingerprint),
    ]
    if alert.service:
        tags.append(tag(Key.SERVICE, alert.service))
    return tags


def merged(
    current: Sequence[str],
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: Iterable[Key] = (),
) -> list[str]:
    """``current`` without ``remove`` and without any tag of a ``replace`` key, then
    ``add``; order kept, no duplicates. Every tag update goes through here."""
    dropped = {str(t) for t in remove}
    prefixes = tuple(f"{key.value}:" for key in replace)
    tags = [t for t in current if t not in dropped and not (prefixes and t.startswith(prefixes))]
    for wanted in map(str, add):
        if wanted not in tags:
            tags.append(wanted)
    return tags


async def retag(
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: Iterable[Key] = (),
    run_id: str | UUID | None = None,
) -> None:
    """Update a run's tags (by default the current flow run's; nothing outside a run)."""
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    target = run_id or flow_run.get_id()
    if not target:
        return
    async with get_client() as client:
        run = await client.read_flow_run(UUID(str(target)))
        tags = merged(run.tags, add, remove, replace)
        if tags != run.tags:
            await client.update_flow_run(run.id, tags=tags)


async def run_tags(run_id: str | UUID) -> list[str]:
    """A run's tags as the server has them now (the run context keeps its creation tags)."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return list((await client.read_flow_run(UUID(str(run_id)))).tags)


def creation_tags(
    occurrences: int, transitions: int, window_s: float, silence: str | None = None
) -> list[str]:
    """What the gateway adds to a run it creates; ``transitions`` is 0 unless flapping;
    ``silence`` labels the maintenance window or silence the alert arrived in."""
    tags = [tag(Key.OCCURRENCES, occurrences)] if occurrences > 1 else []
    if silence is not None:
        tags += [Flag.SILENCED.value, tag(Key.SILENCE, silence)]
    if transitions:
        tags += [
            Flag.FLAPPING.value,
            tag(Key.FLAPPING_TRANSITIONS, transitions),
            tag(Key.FLAPPING_WINDOW, float(window_s)),
        ]
    return tags
