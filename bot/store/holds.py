"""Held alerts and the digests they become.

An alert that must wait (a mute, quiet hours, a digest subscription) is an
outbox row in status `held` with a `release_at`. The scheduler's release job
(`bot.delivery.release`) asks `due_holds` for what is due, per destination,
and `release_holds` turns a destination's due rows into one pending digest
row (kind `digest`, the alerts in publication order, each story once) in one
transaction: the rows become `digested` and point at it. A row another
instance released meanwhile is skipped (`status = 'held'` is re-checked
under the row lock on PostgreSQL), so each alert is in exactly one digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa

from bot.core.model import Alert, Destination, Digest, Hold
from bot.store.base import HeldGroup, HeldSummary
from bot.store.codec import alert_from_dict, digest_to_dict, sources_from_list
from bot.store.tables import OutboxKind, OutboxStatus, outbox, subscriptions
from bot.store.transactions import SqlBase, batched

_o = outbox.c
_HELD = OutboxStatus.HELD.value


def _at(destination: Destination) -> sa.ColumnElement[bool]:
    return sa.and_(_o.platform == destination.platform, _o.chat_id == destination.chat_id)


class HoldQueries(SqlBase):
    """Holding alerts and releasing them as digests."""

    async def due_holds(self, now: datetime, *, limit: int = 1000) -> list[HeldGroup]:
        """Held rows with `release_at <= now`, grouped per destination (oldest first),
        with each destination's quiet hours."""
        query = (
            sa.select(_o.id, _o.platform, _o.chat_id)
            .where(_o.status == _HELD, _o.release_at <= now)
            .order_by(_o.platform, _o.chat_id, _o.id)
            .limit(limit)
        )
        async with self._read() as conn:
            grouped: dict[tuple[str, str], list[int]] = {}
            for row_id, platform, chat_id in await conn.execute(query):
                grouped.setdefault((platform, chat_id), []).append(row_id)
            if not grouped:
                return []
            s = subscriptions.c
            quiet_query = sa.select(s.platform, s.chat_id, s.quiet_hours).where(
                sa.tuple_(s.platform, s.chat_id).in_(list(grouped)), s.quiet_hours.is_not(None)
            )
            quiet = {(p, c): hours for p, c, hours in await conn.execute(quiet_query)}
        return [
            HeldGroup(Destination(platform, chat_id), tuple(ids), quiet.get((platform, chat_id)))
            for (platform, chat_id), ids in grouped.items()
        ]

    async def release_holds(
        self, destination: Destination, ids: Sequence[int], at: datetime
    ) -> int:
        """Queue one digest row of those of `ids` still held; 1 if one was queued."""
        if not ids:
            return 0
        query = (
            sa.select(_o.id, _o.alert, _o.sources, _o.urgent, _o.hold)
            .where(_o.id.in_(list(ids)), _o.status == _HELD, _at(destination))
            .order_by(_o.id)
            .with_for_update()
        )
        async with self._write() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if not rows:
                return 0
            digest = _digest_of(rows)
            digest_id = await conn.scalar(
                sa.insert(outbox)
                .values(
                    story_key=None,
                    platform=destination.platform,
                    chat_id=destination.chat_id,
                    alert=None,
                    kind=OutboxKind.DIGEST.value,
                    digest=digest_to_dict(digest),
                    status=OutboxStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=at,
                    created_at=at,
                )
                .returning(_o.id)
            )
            taken = [row["id"] for row in rows]
            for batch in batched(taken):
                await conn.execute(
                    sa.update(outbox)
                    .where(_o.id.in_(batch))
                    .values(status=OutboxStatus.DIGESTED.value, digest_id=digest_id)
                )
        return 1

    async def postpone_holds(self, ids: Sequence[int], until: datetime, hold: Hold) -> None:
        """Move those of `ids` still held to `until`, held for `hold`."""
        async with self._write() as conn:
            for batch in batched(list(ids)):
                await conn.execute(
                    sa.update(outbox)
                    .where(_o.id.in_(batch), _o.status == _HELD)
                    .values(release_at=until, hold=hold.value)
                )

    async def held_summary(self, destination: Destination) -> list[HeldSummary]:
        """Per reason: how many alerts wait for the destination, and the next release."""
        query = (
            sa.select(_o.hold, sa.func.count(), sa.func.min(_o.release_at))
            .where(_at(destination), _o.status == _HELD)
            .group_by(_o.hold)
            .order_by(sa.func.min(_o.release_at))
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [HeldSummary(Hold(hold or Hold.MUTE), int(n), at) for hold, n, at in rows]


def _digest_of(rows: Sequence[sa.RowMapping]) -> Digest:
    """The digest of held rows: alerts by publication time, each story once."""
    alerts: dict[str, Alert] = {}
    holds: list[Hold] = []
    for row in rows:
        alert = replace(
            alert_from_dict(row["alert"]),
            sources=sources_from_list(row["sources"]),
            urgent=row["urgent"],
        )
        alerts.setdefault(alert.story.key, alert)
        hold = Hold(row["hold"] or Hold.MUTE)
        if hold not in holds:
            holds.append(hold)
    # Rows come in id order (as they were queued); the sort is stable, so stories
    # published in the same second keep that order.
    ordered = sorted(alerts.values(), key=lambda a: a.story.published)
    return Digest(alerts=tuple(ordered), holds=tuple(holds))
