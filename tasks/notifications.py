"""Notifications as a task sent once per run and notice key."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext

from remediate.catalog import Catalog
from remediate.notifications.notice import Notice
from remediate.notifications.send import Delivery, send


def _per_notice(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    notice: Notice = parameters["notice"]
    return f"notify-{notice.key}-{context.task_run.flow_run_id}"


@task(name="notify", cache_policy=CachePolicy.from_cache_key_fn(_per_notice))
async def notify(notice: Notice, catalog: Catalog) -> list[Delivery]:
    """A resumed run finds this notice's result cached and sends nothing again."""
    channels = catalog.notifications.hearing(notice.event)
    deliveries = await send(channels, notice, catalog.redactor())
    logger = get_run_logger()
    for delivery in deliveries:
        if delivery.ok:
            logger.info("%s notice sent to %s", notice.event.value, delivery.channel)
        else:
            logger.warning(
                "%s notice to %s failed: %s", notice.event.value, delivery.channel, delivery.detail
            )
    return deliveries
