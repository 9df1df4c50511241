"""WebSub subscriptions: one row per feed, shared by every instance on the database.

A subscription is written whole (`add_push_subscription`, `update_push_subscription`)
by `bot.pipeline.subscribe`, which owns the state machine; the store only keeps
rows, finds them by callback id or feed, and lists them with their feed (None
once the feed was removed: `feed_id` is set to NULL by the foreign key, and the
row waits for the unsubscribe).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from bot.core.model import PushState, PushSubscription
from bot.store.feeds import feed_from_row
from bot.store.tables import feeds, websub_subscriptions
from bot.store.transactions import SqlBase

_w = websub_subscriptions.c
_JOINED = websub_subscriptions.outerjoin(feeds, feeds.c.id == _w.feed_id)
_COLUMNS = [*websub_subscriptions.c, *(c.label(f"f_{c.name}") for c in feeds.c)]


def _subscription(row: RowMapping) -> PushSubscription:
    feed = None
    if row["feed_id"] is not None:
        feed = feed_from_row({c.name: row[f"f_{c.name}"] for c in feeds.c})  # type: ignore[arg-type]
    return PushSubscription(
        callback_id=row["callback_id"],
        feed=feed,
        hub=row["hub_url"],
        topic=row["topic_url"],
        secret=row["secret"],
        state=PushState(row["state"]),
        requested_at=row["requested_at"],
        lease_seconds=row["lease_seconds"],
        lease_expires_at=row["lease_expires_at"],
        last_error=row["last_error"],
        attempts=row["attempts"],
        retry_at=row["retry_at"],
    )


def _values(sub: PushSubscription) -> dict[str, Any]:
    return {
        "feed_id": sub.feed.id if sub.feed is not None else None,
        "hub_url": sub.hub,
        "topic_url": sub.topic,
        "secret": sub.secret,
        "state": sub.state.value,
        "requested_at": sub.requested_at,
        "lease_seconds": sub.lease_seconds,
        "lease_expires_at": sub.lease_expires_at,
        "last_error": sub.last_error,
        "attempts": sub.attempts,
        "retry_at": sub.retry_at,
    }


class WebSubQueries(SqlBase):
    """The `websub_subscriptions` rows (see the module docstring)."""

    async def add_push_subscription(self, sub: PushSubscription) -> bool:
        """Record a new subscription; False (nothing written) when its feed already has
        one, its callback id is taken, or its feed is gone."""
        values = {"callback_id": sub.callback_id, **_values(sub)}
        stmt = self._insert(websub_subscriptions).values(values).on_conflict_do_nothing()
        async with self._write() as conn:
            if sub.feed is not None:
                known = await conn.scalar(sa.select(feeds.c.id).where(feeds.c.id == sub.feed.id))
                if known is None:
                    return False
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def update_push_subscription(self, sub: PushSubscription) -> bool:
        """Save a subscription's new state by its callback id; False if the row is gone.
        Its feed is never reattached: a removed feed stays removed."""
        values = _values(sub)
        del values["feed_id"]
        stmt = sa.update(websub_subscriptions).where(_w.callback_id == sub.callback_id)
        async with self._write() as conn:
            result = await conn.execute(stmt.values(values))
        return bool(result.rowcount)

    async def delete_push_subscription(self, callback_id: str) -> bool:
        """Forget a subscription (after the hub confirmed the unsubscribe)."""
        stmt = sa.delete(websub_subscriptions).where(_w.callback_id == callback_id)
        async with self._write() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def push_subscription(self, callback_id: str) -> PushSubscription | None:
        """The subscription of a callback id, with its feed (None if unknown)."""
        return await self._one(_w.callback_id == callback_id)

    async def feed_push_subscription(self, feed_id: int) -> PushSubscription | None:
        """The subscription of a feed, if it has one."""
        return await self._one(_w.feed_id == feed_id)

    async def push_subscriptions(self) -> list[PushSubscription]:
        """Every subscription, oldest first (feeds removed included, with feed None)."""
        query = sa.select(*_COLUMNS).select_from(_JOINED).order_by(_w.id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_subscription(row) for row in rows]

    async def _one(self, where: sa.ColumnElement[bool]) -> PushSubscription | None:
        query = sa.select(*_COLUMNS).select_from(_JOINED).where(where)
        async with self._read() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _subscription(row) if row is not None else None
