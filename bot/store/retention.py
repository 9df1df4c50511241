"""Retention: old stories, settled outbox rows and sent notices deleted in small batches.

What dedup needs is kept. The dedup lookup (`known_story_keys`) reads a story's
key, canonical URL, (feed, GUID) and, within 48 hours, its title key; a story
a feed still lists has its `last_seen_at` refreshed (daily) by that lookup, so
a story is only deleted once it is older than the cutoff by both its fetch time
and the last time any feed listed it. A story that still has an outbox row
(pending, or sent more recently than the outbox cutoff) is kept too: the row
needs it and deleting it would cascade to the row. Feedback rows copy the title
and URL they show, and topic examples are text, so neither holds a story back.

Each batch is its own short transaction, so the poller and the delivery loop
are never blocked for long (SQLite has one writer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.model import PruneReport
from bot.store.tables import OutboxStatus, notices, outbox, stories
from bot.store.transactions import SqlBase

PRUNE_BATCH = 2000
_s, _o, _n = stories.c, outbox.c, notices.c

_Found = tuple[sa.Table, list[int]]
_IdQuery = Callable[[AsyncConnection, datetime], Awaitable[_Found]]


class RetentionQueries(SqlBase):
    """`prune`: what `newswatch db prune` and the scheduler's retention job run."""

    async def prune(self, *, stories_before: datetime, sent_before: datetime) -> PruneReport:
        """Delete outbox rows sent (or given up) before `sent_before`, sent notices
        likewise, then stories neither fetched nor listed since `stories_before`
        that no outbox row needs; returns how many of each went."""
        outbox_rows = await self._delete_batches(self._old_outbox_ids, sent_before)
        sent_notices = await self._delete_batches(self._old_notice_ids, sent_before)
        old_stories = await self._delete_batches(self._old_story_ids, stories_before)
        return PruneReport(stories=old_stories, outbox_rows=outbox_rows, notices=sent_notices)

    async def _delete_batches(self, ids_of: _IdQuery, before: datetime) -> int:
        deleted = 0
        while True:
            async with self._write() as conn:
                table, ids = await ids_of(conn, before)
                if ids:
                    await conn.execute(sa.delete(table).where(table.c.id.in_(ids)))
            deleted += len(ids)
            if len(ids) < PRUNE_BATCH:
                return deleted

    async def _old_outbox_ids(self, conn: AsyncConnection, before: datetime) -> _Found:
        settled = sa.or_(
            sa.and_(_o.status == OutboxStatus.SENT.value, _o.sent_at < before),
            sa.and_(_o.status == OutboxStatus.DEAD.value, _o.dead_at < before),
        )
        query = sa.select(_o.id).where(settled).limit(PRUNE_BATCH)
        return outbox, list((await conn.execute(query)).scalars())

    async def _old_notice_ids(self, conn: AsyncConnection, before: datetime) -> _Found:
        query = (
            sa.select(_n.id)
            .where(_n.status != OutboxStatus.PENDING.value, _n.created_at < before)
            .limit(PRUNE_BATCH)
        )
        return notices, list((await conn.execute(query)).scalars())

    async def _old_story_ids(self, conn: AsyncConnection, before: datetime) -> _Found:
        needed = sa.select(_o.id).where(_o.story_key == _s.key).exists()
        query = (
            sa.select(_s.id)
            .where(
                _s.fetched_at < before,
                sa.or_(_s.last_seen_at.is_(None), _s.last_seen_at < before),
                sa.not_(needed),
            )
            .limit(PRUNE_BATCH)
        )
        return stories, list((await conn.execute(query)).scalars())
