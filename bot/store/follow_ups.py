"""Follow-ups: a later outlet's report of an alerted story lands on its alert rows.

`apply_follow_ups` runs inside `save_stories`' transaction, for the near-duplicates
stored just now: every alert row of the cluster's first story (pending, held
or sent, in every destination) gets the new publisher among its `sources`
(each publisher once, never the alert's own); a sent row asks for a follow-up
edit (`edit_due_at`). When the twin makes the cluster urgent, the rows are
marked urgent, and those waiting for quiet hours or a digest go out at once
(a mute still holds them: the chat asked for silence).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.model import Hold, Source
from bot.store.base import NewStory
from bot.store.codec import source_to_dict
from bot.store.tables import OutboxKind, OutboxStatus, outbox
from bot.store.transactions import batched, padded

_o = outbox.c
_LIVE = (OutboxStatus.PENDING.value, OutboxStatus.HELD.value, OutboxStatus.SENT.value)
_BYPASSED = (Hold.QUIET.value, Hold.DIGEST.value)
"""Holds an urgent alert does not wait for."""


async def apply_follow_ups(conn: AsyncConnection, items: Sequence[NewStory]) -> int:
    """Name each of `items` (near-duplicates, in order) on the alert rows of its
    cluster, as of the story's fetch time; returns how many rows changed.

    One read of every live alert row of the clusters (most clusters have none:
    only an alerted story has rows) and one UPDATE per row that changed, with
    the items applied in order to the rows in memory: the rows end as they
    would after one read and one write per item.
    """
    clusters = {item.cluster_key for item in items if item.cluster_key}
    rows: dict[str, list[dict[str, Any]]] = {}
    for batch in batched(sorted(clusters)):
        found = await conn.execute(_live_alerts(), {"keys": padded(batch)})
        for row in found.mappings():
            rows.setdefault(row["story_key"], []).append(dict(row))
    changed: dict[int, dict[str, Any]] = {}
    for item in items:
        for row in rows.get(item.cluster_key or "", ()):
            values = _follow_up_values(row, item, item.story.fetched_at)
            row.update(values)
            if values:
                changed.setdefault(row["id"], {}).update(values)
    for row_id in sorted(changed):
        await conn.execute(sa.update(outbox).where(_o.id == row_id).values(changed[row_id]))
    return len(changed)


@functools.cache
def _live_alerts() -> sa.Select[Any]:
    """The live alert rows of the clusters in the expanding parameter `keys`, by id
    (built once: the statement and its compiled form are reused)."""
    columns = (_o.id, _o.story_key, _o.status, _o.alert, _o.sources, _o.urgent, _o.hold)
    return (
        sa.select(*columns, _o.edit_due_at)
        .where(
            _o.story_key.in_(sa.bindparam("keys", expanding=True)),
            _o.kind == OutboxKind.ALERT.value,
            _o.status.in_(_LIVE),
        )
        .order_by(_o.id)
        .with_for_update()
    )


def _follow_up_values(row: Mapping[str, Any], item: NewStory, at: datetime) -> dict[str, Any]:
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
