"""Releasing held alerts: the scheduler's job that turns what waited into digests.

On every tick `release_due` takes each destination's held alerts whose time
has come (a mute ended, quiet hours ended, a digest is due) and queues them
as one digest row in the outbox, which the delivery loop then sends like any
alert (leased, retried, in order with the chat's other messages). If the
destination is in its quiet hours right now (a mute that ended at night, a
digest time inside them, quiet hours set after the alert was held), the
alerts wait for the end of the quiet hours instead.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.core import metrics
from bot.core.model import Hold
from bot.core.schedules import quiet_until
from bot.store.base import Store

log = logging.getLogger(__name__)


async def release_due(store: Store, now: datetime) -> int:
    """Queue a digest for each destination with held alerts due at `now`; returns
    how many digests were queued."""
    queued = 0
    for group in await store.due_holds(now):
        end = quiet_until(group.quiet_hours, now)
        if end is not None:
            await store.postpone_holds(group.ids, end, Hold.QUIET)
            continue
        queued += await store.release_holds(group.destination, group.ids, now)
    if queued:
        metrics.DIGESTS.inc(queued)
        log.info("queued %d digests of held alerts", queued)
    return queued
