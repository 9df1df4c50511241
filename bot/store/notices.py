"""Admin notices and the feed alarms they announce.

A feed alarm (`failing`, `quiet`) is raised or cleared in the same
transaction that queues its notices, and only if it was not already in that
state, so of several instances checking the same feed exactly one queues the
notice, and a crash between the two can lose neither. Notices are then
claimed under a lease like outbox rows and sent by `bot.delivery.notices`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.errors import NotFoundError
from bot.core.model import Destination, Notice
from bot.store.tables import OutboxStatus, feed_alarms, feeds, notices
from bot.store.transactions import SqlBase

_n = notices.c
_a = feed_alarms.c
_PENDING = OutboxStatus.PENDING.value


class NoticeQueries(SqlBase):
    """The `feed_alarms` and `notices` tables."""

    async def feed_alarms(self) -> set[tuple[int, str]]:
        """(feed id, kind) of every alarm raised and not yet cleared."""
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(_a.feed_id, _a.kind))).all()
        return {(int(feed_id), str(kind)) for feed_id, kind in rows}

    async def set_feed_alarm(
        self,
        feed_id: int,
        kind: str,
        *,
        raised: bool,
        at: datetime,
        notices_to: Sequence[tuple[Destination, str]],
    ) -> bool:
        """Raise (or clear) one alarm and queue its notices, atomically.

        False, with nothing queued, when the alarm already was in that state
        or the feed is gone.
        """
        async with self._write() as conn:
            changed = await (self._raise_alarm if raised else self._clear_alarm)(
                conn, feed_id, kind, at
            )
            if changed and notices_to:
                await conn.execute(sa.insert(notices), [_notice(d, t, at) for d, t in notices_to])
        return changed

    async def queue_notices(
        self, notices_to: Sequence[tuple[Destination, str]], at: datetime
    ) -> None:
        """Queue plain notices (no alarm attached)."""
        if notices_to:
            async with self._write() as conn:
                await conn.execute(sa.insert(notices), [_notice(d, t, at) for d, t in notices_to])

    async def claim_notices(
        self, now: datetime, *, limit: int, owner: str, lease_seconds: float
    ) -> list[Notice]:
        """Due, unleased pending notices, oldest first, leased to `owner`."""
        query = (
            sa.select(_n.id, _n.platform, _n.chat_id, _n.text, _n.attempts)
            .where(
                _n.status == _PENDING,
                _n.next_attempt_at <= now,
                sa.or_(_n.lease_until.is_(None), _n.lease_until <= now),
            )
            .order_by(_n.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        lease = {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}
        async with self._write() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if rows:
                ids = [row["id"] for row in rows]
                await conn.execute(sa.update(notices).where(_n.id.in_(ids)).values(lease))
        return [
            Notice(r["id"], Destination(r["platform"], r["chat_id"]), r["text"], r["attempts"])
            for r in rows
        ]

    async def mark_notice_sent(self, notice_id: int, *, at: datetime) -> None:
        """A delivered notice; it is never sent again."""
        await self._settle_notice(
            notice_id, status=OutboxStatus.SENT.value, sent_at=at, attempts=_n.attempts + 1
        )

    async def mark_notice_retry(
        self, notice_id: int, *, error: str, next_attempt_at: datetime
    ) -> None:
        """A failed attempt: try again at `next_attempt_at`."""
        await self._settle_notice(
            notice_id, last_error=error, next_attempt_at=next_attempt_at, attempts=_n.attempts + 1
        )

    async def mark_notice_dead(self, notice_id: int, *, error: str) -> None:
        """Give up on a notice the platform refuses for good."""
        await self._settle_notice(
            notice_id, status=OutboxStatus.DEAD.value, last_error=error, attempts=_n.attempts + 1
        )

    async def _raise_alarm(
        self, conn: AsyncConnection, feed_id: int, kind: str, at: datetime
    ) -> bool:
        exists = await conn.scalar(sa.select(feeds.c.id).where(feeds.c.id == feed_id))
        if exists is None:
            return False
        stmt = self._insert(feed_alarms).values(feed_id=feed_id, kind=kind, raised_at=at)
        return bool((await conn.execute(stmt.on_conflict_do_nothing())).rowcount)

    async def _clear_alarm(
        self, conn: AsyncConnection, feed_id: int, kind: str, at: datetime
    ) -> bool:
        stmt = sa.delete(feed_alarms).where(_a.feed_id == feed_id, _a.kind == kind)
        return bool((await conn.execute(stmt)).rowcount)

    async def _settle_notice(self, notice_id: int, **values: Any) -> None:
        stmt = (
            sa.update(notices)
            .where(_n.id == notice_id)
            .values(lease_owner=None, lease_until=None, **values)
        )
        async with self._write() as conn:
            if (await conn.execute(stmt)).rowcount == 0:
                raise NotFoundError(f"no notice with id {notice_id}")


def _notice(destination: Destination, text: str, at: datetime) -> dict[str, Any]:
    return {
        "platform": destination.platform,
        "chat_id": destination.chat_id,
        "text": text,
        "status": _PENDING,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }
