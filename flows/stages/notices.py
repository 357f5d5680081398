"""Telling the catalog's notification channels what the run did."""

from __future__ import annotations

from remediate.catalog import Catalog
from remediate.notifications.notice import Notice
from tasks.notifications import notify


async def tell(notice: Notice, catalog: Catalog) -> None:
    """Sent once per run and notice key; nothing (not even a task run) without a channel
    that hears the event. A failing channel is logged by the task, never raised."""
    if catalog.notifications.hearing(notice.event):
        await notify(notice, catalog)
