"""The outbox: alerts, follow-up edits and digests waiting for delivery, claimed
with leases in per-chat order."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import RowMapping

from bot.core.errors import NotFoundError
from bot.core.model import Destination, OutboxItem, OutboxJob
from bot.store.base import DeadLetter
from bot.store.codec import alert_from_dict, digest_from_dict, sources_from_list
from bot.store.tables import OutboxKind, OutboxStatus, outbox, stories, subscriptions
from bot.store.transactions import SqlBase

_o = outbox.c
_PENDING = OutboxStatus.PENDING.value
_SENT = OutboxStatus.SENT.value


def item_from_row(row: RowMapping) -> OutboxItem:
    """The OutboxItem of an `outbox` row: a digest, a follow-up edit of a sent alert,
    or an alert to send (with the sources and urgency it has by now)."""
    destination = Destination(platform=row["platform"], chat_id=row["chat_id"])
    common = {"id": row["id"], "destination": destination, "created_at": row["created_at"]}
    common["last_error"] = row["last_error"]
    if row["kind"] == OutboxKind.DIGEST.value:
        digest = digest_from_dict(row["digest"])
        return OutboxItem(
            alert=None,
            attempts=row["attempts"],
            job=OutboxJob.DIGEST,
            digest=digest,
            parts_sent=row["parts_sent"],
            **common,
        )
    sources = sources_from_list(row["sources"])
    alert = replace(alert_from_dict(row["alert"]), sources=sources, urgent=row["urgent"])
    if row["status"] != _SENT:
        return OutboxItem(alert=alert, attempts=row["attempts"], **common)
    return OutboxItem(
        alert=alert,
        attempts=row["edit_attempts"],
        job=OutboxJob.EDIT,
        message_id=row["message_id"],
        new_sources=sources[row["edited_sources"] :],
        outcome=row["outcome"],
        **common,
    )


def _paused() -> sa.Exists:
    s = subscriptions.c
    return (
        sa.select(s.id)
        .where(s.platform == _o.platform, s.chat_id == _o.chat_id, s.paused_reason.is_not(None))
        .exists()
    )


def _unleased(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(_o.lease_until.is_(None), _o.lease_until <= now)


def editable_query(now: datetime, limit: int, gap_seconds: float) -> sa.Select[Any]:
    """Sent alerts whose follow-up edit is due, at least `gap_seconds` after their
    last edit, not leased, in destinations not paused; locked with SKIP LOCKED."""
    rested = now - timedelta(seconds=gap_seconds)
    return (
        sa.select(outbox)
        .where(
            _o.edit_due_at <= now,
            _o.status == _SENT,
            sa.or_(_o.edited_at.is_(None), _o.edited_at <= rested),
            _unleased(now),
            sa.not_(_paused()),
        )
        .order_by(_o.edit_due_at, _o.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=outbox)
    )


def claimable_query(now: datetime, limit: int, backend: str) -> sa.Select[Any]:
    """Each destination's oldest pending row, if it is due, not leased and the
    destination is not paused; oldest first, locked with SKIP LOCKED on PostgreSQL."""
    conditions = [
        _is_destination_head(backend),
        _o.next_attempt_at <= now,
        _unleased(now),
        sa.not_(_paused()),
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
        self,
        now: datetime,
        *,
        limit: int,
        owner: str,
        lease_seconds: float,
        edit_gap_seconds: float = 0.0,
    ) -> list[OutboxItem]:
        """Lease up to `limit` rows to send to `owner` (at most one per destination,
        always its oldest unsent row, so each chat gets them in order), then up to
        `limit` sent alerts whose follow-up edit is due."""
        if limit <= 0:
            return []
        lease = {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}
        async with self._write() as conn:
            rows = list(
                (await conn.execute(claimable_query(now, limit, self.backend))).mappings().all()
            )
            edits = await conn.execute(editable_query(now, limit, edit_gap_seconds))
            rows += edits.mappings().all()
            if rows:
                ids = [r["id"] for r in rows]
                await conn.execute(sa.update(outbox).where(_o.id.in_(ids)).values(lease))
        return [item_from_row(r) for r in rows]

    async def mark_sent(
        self, item_id: int, *, message_id: str | None, at: datetime, shown_sources: int = 0
    ) -> None:
        """Record a delivered row with the platform's message id and how many sources
        it shows (a follow-up edit is due if more arrived meanwhile); releases the lease."""
        values: dict[str, Any] = {"status": _SENT, "sent_at": at}
        if message_id is not None:  # a resumed digest keeps its first part's id
            values["message_id"] = message_id
        await self._settle_shown(
            item_id,
            shown_sources,
            at,
            attempts=_o.attempts + 1,
            edited_sources=shown_sources,
            **values,
        )

    async def mark_edited(self, item_id: int, *, shown_sources: int, at: datetime) -> None:
        """A follow-up edit went out; another is due if more sources arrived meanwhile."""
        await self._settle_shown(
            item_id,
            shown_sources,
            at,
            edited_sources=shown_sources,
            edited_at=at,
            edit_attempts=0,
            last_error=None,
        )

    async def _settle_shown(
        self, item_id: int, shown_sources: int, at: datetime, **values: Any
    ) -> None:
        async with self._write() as conn:
            query = sa.select(_o.sources).where(_o.id == item_id).with_for_update()
            sources = (await conn.execute(query)).scalar_one_or_none()
            more = len(sources or ()) > shown_sources
            stmt = (
                sa.update(outbox)
                .where(_o.id == item_id)
                .values(lease_owner=None, lease_until=None, edit_due_at=at if more else None)
                .values(**values)
            )
            if (await conn.execute(stmt)).rowcount == 0:
                raise NotFoundError(f"no outbox row with id {item_id}")

    async def mark_edit_failed(
        self, item_id: int, *, error: str, retry_at: datetime | None, at: datetime
    ) -> None:
        """Record a failed follow-up edit: retried at `retry_at`, or given up (None)."""
        await self._settle(
            item_id, last_error=error, edit_due_at=retry_at, edit_attempts=_o.edit_attempts + 1
        )

    async def mark_digest_part(
        self, item_id: int, *, parts_sent: int, message_id: str, at: datetime
    ) -> None:
        """Record the digest's posted parts (the first part's id is its message id)."""
        values: dict[str, Any] = {"parts_sent": parts_sent}
        if parts_sent == 1:
            values["message_id"] = message_id
        async with self._write() as conn:
            await conn.execute(sa.update(outbox).where(_o.id == item_id).values(values))

    async def record_outcome(self, destination: Destination, message_id: str, outcome: str) -> None:
        """Keep a button's answer on the posted alert, so follow-ups keep it."""
        stmt = (
            sa.update(outbox)
            .where(
                _o.platform == destination.platform,
                _o.chat_id == destination.chat_id,
                _o.message_id == message_id,
                _o.kind == OutboxKind.ALERT.value,
            )
            .values(outcome=outcome)
        )
        async with self._write() as conn:
            await conn.execute(stmt)

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

    async def alert_latencies(
        self, since: datetime, *, limit: int = 100_000
    ) -> list[tuple[float, float]]:
        """(first seen → sent, published → sent) in seconds for alerts sent at once since
        `since`, newest first, at most `limit` (held alerts go out as digests, not here)."""
        query = (
            sa.select(_o.sent_at, stories.c.fetched_at, stories.c.published)
            .join(stories, stories.c.key == _o.story_key)
            .where(_o.status == _SENT, _o.kind == "alert", _o.sent_at >= since)
            .order_by(_o.sent_at.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            (
                max(0.0, (sent - seen).total_seconds()),
                max(0.0, (sent - published).total_seconds()),
            )
            for sent, seen, published in rows
        ]

    async def dead_letters(self, *, limit: int = 10) -> list[DeadLetter]:
        """The most recently abandoned rows, newest first."""
        query = (
            sa.select(_o.id, _o.platform, _o.chat_id, _o.last_error, _o.dead_at, stories.c.title)
            .outerjoin(stories, stories.c.key == _o.story_key)
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
                story_title=r["title"] if r["title"] is not None else "a digest",
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
