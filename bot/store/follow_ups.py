"""Follow-ups: a later outlet's report of an alerted story lands on its alert rows.

`apply_follow_up` runs inside `save_stories`' transaction, for a near-duplicate
stored just now: every alert row of the cluster's first story (pending, held
or sent, in every destination) gets the new publisher among its `sources`
(each publisher once, never the alert's own); a sent row asks for a follow-up
edit (`edit_due_at`). When the twin makes the cluster urgent, the rows are
marked urgent, and those waiting for quiet hours or a digest go out at once
(a mute still holds them: the chat asked for silence).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.model import Hold, Source
from bot.store.base import NewStory
from bot.store.codec import source_to_dict
from bot.store.tables import OutboxKind, OutboxStatus, outbox

_o = outbox.c
_LIVE = (OutboxStatus.PENDING.value, OutboxStatus.HELD.value, OutboxStatus.SENT.value)
_BYPASSED = (Hold.QUIET.value, Hold.DIGEST.value)
"""Holds an urgent alert does not wait for."""


async def apply_follow_up(conn: AsyncConnection, item: NewStory, *, at: datetime) -> int:
    """Name `item.story` on the alert rows of its cluster; returns the rows changed."""
    query = (
        sa.select(_o.id, _o.status, _o.alert, _o.sources, _o.urgent, _o.hold, _o.edit_due_at)
        .where(
            _o.story_key == item.cluster_key,
            _o.kind == OutboxKind.ALERT.value,
            _o.status.in_(_LIVE),
        )
        .order_by(_o.id)
        .with_for_update()
    )
    changed = 0
    for row in (await conn.execute(query)).mappings().all():
        values = _follow_up_values(row, item, at)
        if values:
            await conn.execute(sa.update(outbox).where(_o.id == row["id"]).values(values))
            changed += 1
    return changed


def _follow_up_values(row: RowMapping, item: NewStory, at: datetime) -> dict[str, Any]:
    """The columns to change on one alert row ({} when nothing changes)."""
    sources = list(row["sources"] or [])
    publishers = {row["alert"]["story"]["publisher"], *(s["publisher"] for s in sources)}
    values: dict[str, Any] = {}
    if item.story.publisher not in publishers:
        values["sources"] = [*sources, source_to_dict(Source.of(item.story))]
    if item.urgent_cluster and not row["urgent"]:
        values["urgent"] = True
    if not values:
        return {}
    if row["status"] == OutboxStatus.SENT.value and row["edit_due_at"] is None:
        values["edit_due_at"] = at
    held = row["status"] == OutboxStatus.HELD.value
    if values.get("urgent") and held and row["hold"] in _BYPASSED:
        values |= {
            "status": OutboxStatus.PENDING.value,
            "release_at": None,
            "hold": None,
            "next_attempt_at": at,
        }
    return values
