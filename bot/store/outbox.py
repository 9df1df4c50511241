"""The outbox: alerts waiting for delivery, claimed with leases in per-chat order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import RowMapping

from bot.core.errors import NotFoundError
from bot.core.model import Destination, OutboxItem
from bot.store.base import DeadLetter
from bot.store.codec import alert_from_dict
from bot.store.tables import OutboxStatus, outbox, stories, subscriptions
from bot.store.transactions import SqlBase

_o = outbox.c
_PENDING = OutboxStatus.PENDING.value


def item_from_row(row: RowMapping) -> OutboxItem:
    """The OutboxItem dataclass of an `outbox` row."""
    return OutboxItem(
        id=row["id"],
        destination=Destination(platform=row["platform"], chat_id=row["chat_id"]),
        alert=alert_from_dict(row["alert"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        last_error=row["last_error"],
    )


def claimable_query(now: datetime, limit: int, backend: str) -> sa.Select[Any]:
    """Each destination's oldest pending row, if it is due, not leased and the
    destination is not paused; oldest first, locked with SKIP LOCKED on PostgreSQL."""
    s = subscriptions.c
    paused = (
        sa.select(s.id)
        .where(s.platform == _o.platform, s.chat_id == _o.chat_id, s.paused_reason.is_not(None))
        .exists()
    )
    conditions = [
        _is_destination_head(backend),
        _o.next_attempt_at <= now,
        sa.or_(_o.lease_until.is_(None), _o.lease_until <= now),
        sa.not_(paused),
    ]
    if backend == "postgresql":
        # Re-checked by PostgreSQL on a row another transaction changed meanwhile.
        # (On SQLite it would only steer the planner away from the primary key.)
        conditions.append(_o.status == _PENDING)
    return (
        sa.select(outbox)
        .where(*conditions)
        .order_by(_o.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=outbox)
    )


def _is_destination_head(backend: str) -> sa.ColumnElement[bool]:
    """The row is its destination's oldest pending row."""
    heads = (
        sa.select(sa.func.min(_o.id).label("id"))
        .where(_o.status == _PENDING)
        .group_by(_o.platform, _o.chat_id)
    )
    if backend != "postgresql":
        return _o.id.in_(heads)
    # `= ANY(<one array>)` runs the head query once, then fetches rows by primary key;
    # with `IN` the planner may sort every pending row (with its alert) instead.
    head_ids = sa.select(sa.func.array_agg(heads.subquery().c.id)).scalar_subquery()
    return _o.id == sa.any_(sa.cast(head_ids, postgresql.ARRAY(sa.BigInteger)))


class OutboxQueries(SqlBase):
    """Claiming and settling outbox rows."""

    async def claim_outbox(
        self, now: datetime, *, limit: int, owner: str, lease_seconds: float
    ) -> list[OutboxItem]:
        """Lease up to `limit` rows to `owner`: at most one per destination, always
        that destination's oldest unsent row, so each chat gets alerts in order."""
        if limit <= 0:
            return []
        lease = {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}
        async with self._write() as conn:
            rows = (await conn.execute(claimable_query(now, limit, self.backend))).mappings().all()
            if rows:
                ids = [r["id"] for r in rows]
                await conn.execute(sa.update(outbox).where(_o.id.in_(ids)).values(lease))
        return [item_from_row(r) for r in rows]

    async def mark_sent(self, item_id: int, *, message_id: str | None, at: datetime) -> None:
        """Record a delivered row with the platform's message id; releases the lease."""
        await self._settle(
            item_id,
            status=OutboxStatus.SENT.value,
            sent_at=at,
            message_id=message_id,
            attempts=_o.attempts + 1,
        )

    async def mark_retry(
        self, item_id: int, *, error: str, next_attempt_at: datetime, at: datetime
    ) -> None:
        """Record a failed attempt and when to try again; releases the lease."""
        await self._settle(
            item_id, last_error=error, next_attempt_at=next_attempt_at, attempts=_o.attempts + 1
        )

    async def mark_dead(self, item_id: int, *, error: str, at: datetime) -> None:
        """Give up on a row; it shows in `dead_letters` and no longer blocks its chat."""
        await self._settle(
            item_id,
            status=OutboxStatus.DEAD.value,
            last_error=error,
            dead_at=at,
            attempts=_o.attempts + 1,
        )

    async def _settle(self, item_id: int, **values: Any) -> None:
        stmt = (
            sa.update(outbox)
            .where(_o.id == item_id)
            .values(lease_owner=None, lease_until=None, **values)
        )
        async with self._write() as conn:
            if (await conn.execute(stmt)).rowcount == 0:
                raise NotFoundError(f"no outbox row with id {item_id}")

    async def outbox_pending(self) -> int:
        """How many rows wait for delivery (including leased and backed-off ones)."""
        query = sa.select(sa.func.count()).select_from(outbox).where(_o.status == _PENDING)
        async with self._read() as conn:
            return int(await conn.scalar(query) or 0)

    async def dead_letters(self, *, limit: int = 10) -> list[DeadLetter]:
        """The most recently abandoned rows, newest first."""
        query = (
            sa.select(_o.id, _o.platform, _o.chat_id, _o.last_error, _o.dead_at, stories.c.title)
            .join(stories, stories.c.key == _o.story_key)
            .where(_o.status == OutboxStatus.DEAD.value)
            .order_by(_o.dead_at.desc(), _o.id.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            DeadLetter(
                id=r["id"],
                destination=Destination(platform=r["platform"], chat_id=r["chat_id"]),
                story_title=r["title"],
                error=r["last_error"] or "",
                at=r["dead_at"],
            )
            for r in rows
        ]

    async def sent_message_id(self, story_key: str, destination: Destination) -> str | None:
        """The platform message id of the alert already posted for this story there."""
        query = (
            sa.select(_o.message_id)
            .where(
                _o.story_key == story_key,
                _o.platform == destination.platform,
                _o.chat_id == destination.chat_id,
                _o.status == OutboxStatus.SENT.value,
                _o.message_id.is_not(None),
            )
            .order_by(_o.sent_at.desc())
            .limit(1)
        )
        async with self._read() as conn:
            return await conn.scalar(query)
