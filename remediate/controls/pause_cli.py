"""``remediate pause-automation`` / ``resume-automation``: set or clear the pause, and tell
the catalog's approval channels once."""

from __future__ import annotations

from datetime import UTC, datetime

from remediate.approval.config import NotifyChannel
from remediate.approval.notify import control_payload, notify
from remediate.controls.audit import AuditEntry, Kind, artifact
from remediate.controls.pause import PAUSE_VARIABLE, Pause, pause_of
from remediate.runs.api import PrefectAPI

PAUSED_EVENT = "remediate.automation-paused"
RESUMED_EVENT = "remediate.automation-resumed"


async def _tell(channels: list[NotifyChannel], event: str, text: str, **fields: str) -> None:
    if not channels:
        print("no approval.notify channel in the catalog: nobody was notified")
        return
    for delivery in await notify(channels, control_payload(event, text, **fields), text):
        state = "notified" if delivery.ok else "NOT notified"
        print(f"{delivery.channel}: {state} ({delivery.detail})")


async def _audit(api: PrefectAPI, entry: AuditEntry) -> None:
    """On the audit trail (an artifact of no run): the pause outlives its variable."""
    await api.create_artifact(artifact(entry, None).model_dump(mode="json", exclude_none=True))


async def pause_automation(
    api: PrefectAPI, by: str, reason: str, channels: list[NotifyChannel]
) -> Pause:
    """The pause now in force; channels are told only when this call started it."""
    pause = Pause(by=by, reason=reason, since=datetime.now(UTC))
    if not await api.create_variable(PAUSE_VARIABLE, pause.model_dump(mode="json")):
        current = pause_of(await api.variable(PAUSE_VARIABLE))
        print(f"automation already {current.describe()}")
        return current
    await _audit(
        api, AuditEntry(at=pause.since, kind=Kind.AUTOMATION_PAUSED, actor=by, reason=reason)
    )
    print(f"automation {pause.describe()}")
    print("no fix is proposed or published and no action runs (approved or not) until resumed;")
    print("alerts still become issues")
    text = f"Remediation automation {pause.describe()}. Alerts still open issues."
    await _tell(channels, PAUSED_EVENT, text, by=pause.by, reason=pause.reason)
    return pause


async def resume_automation(api: PrefectAPI, by: str, channels: list[NotifyChannel]) -> bool:
    """False when automation was not paused (nobody is told)."""
    value = await api.variable(PAUSE_VARIABLE)
    if value is None or not await api.delete_variable(PAUSE_VARIABLE):
        print("automation is not paused")
        return False
    pause = pause_of(value)
    resumed = AuditEntry(
        at=datetime.now(UTC), kind=Kind.AUTOMATION_RESUMED, actor=by, reason=pause.describe()
    )
    await _audit(api, resumed)
    print(f"automation resumed by {by} ({pause.describe()})")
    print("runs stopped while paused stay stopped: their alerts start new runs when they fire")
    text = f"Remediation automation resumed by {by} (it was {pause.describe()})."
    await _tell(channels, RESUMED_EVENT, text, by=by)
    return True
