"""Retention: old stories, settled outbox rows and sent notices deleted in small batches.

What dedup needs is kept. The dedup lookup (`known_story_keys`) reads a story's
key, canonical URL, (feed, GUID) and, within 48 hours, its title key; a story
a feed still lists has its `last_seen_at` refreshed (daily) by that lookup. A
story goes only when both hold:

- it was neither fetched nor listed since the cutoff;
- it was not in its feed's latest listing: its last sighting is more than
  LISTING_SLACK older than the newest sighting of any story of that feed. A
  feed that has been failing, or answering 304 Not Modified, for longer than the
  retention still carries what it listed last; those stories stay until the
  feed lists something else, so they cannot alert again when it comes back.

A story that still has an outbox row (pending or held, or sent more recently
than the outbox cutoff; an alert digested into a digest goes once that digest
is settled and older than the cutoff) is kept too: the row needs it and deleting the story would
cascade to it. Feedback rows copy the title and URL they show, and topic
examples are text, so neither holds a story back.

Each batch is its own short transaction, so the poller and the delivery loop
are never blocked for long (SQLite has one writer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.model import PruneReport
from bot.store.tables import OutboxStatus, UtcDateTime, notices, outbox, stories
from bot.store.transactions import SqlBase

PRUNE_BATCH = 2000
LISTING_SLACK = timedelta(days=2)
"""Sightings are refreshed at most daily (`SEEN_EVERY`), so a story of a feed's latest
listing may look up to a day older than the newest one; two days is safe."""
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
        stale = await self._stale_feeds(stories_before)
        old_stories = await self._delete_batches(self._story_ids(stale), stories_before)
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
        digest = outbox.alias("digest_row")
        digest_waits = (
            sa.select(digest.c.id)
            .where(
                digest.c.id == _o.digest_id,
                digest.c.status.not_in([OutboxStatus.SENT.value, OutboxStatus.DEAD.value]),
            )
            .exists()
        )
        settled = sa.or_(
            sa.and_(_o.status == OutboxStatus.SENT.value, _o.sent_at < before),
            sa.and_(_o.status == OutboxStatus.DEAD.value, _o.dead_at < before),
            # an alert that went out in a digest (which carries its own copy), once
            # that digest is settled
            sa.and_(
                _o.status == OutboxStatus.DIGESTED.value,
                _o.created_at < before,
                sa.not_(digest_waits),
            ),
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

    async def _stale_feeds(self, before: datetime) -> dict[int, datetime]:
        """Feeds whose latest listing is older than the cutoff (failing, or 304 for
        longer than the retention) → the sighting below which a story of theirs goes.

        Only feeds with stories old enough to prune and none seen lately are looked
        at (index range scans over the old and the recent rows), so a pass does not
        read every story."""
        recent = before + LISTING_SLACK
        async with self._read() as conn:
            old = await _feed_ids(conn, _s.fetched_at < before)
            if not old:
                return {}
            active = await _feed_ids(conn, _s.fetched_at >= recent)
            active |= await _feed_ids(conn, _s.last_seen_at >= recent)
            quiet = sorted(old - active)
            if not quiet:
                return {}
            seen = sa.func.coalesce(_s.last_seen_at, _s.fetched_at)
            query = (
                sa.select(_s.feed_id, sa.func.max(seen))
                .where(_s.feed_id.in_(quiet))
                .group_by(_s.feed_id)
            )
            rows = (await conn.execute(query)).all()
        listed = {int(feed): _utc(value) for feed, value in rows}
        return {feed: min(before, at - LISTING_SLACK) for feed, at in listed.items()}

    def _story_ids(self, stale: dict[int, datetime]) -> _IdQuery:
        async def ids(conn: AsyncConnection, before: datetime) -> _Found:
            seen = sa.func.coalesce(_s.last_seen_at, _s.fetched_at)
            limit: sa.ColumnElement[datetime] = sa.literal(before, UtcDateTime())
            if stale:
                whens = {feed: sa.literal(at, UtcDateTime()) for feed, at in stale.items()}
                limit = sa.case(whens, value=_s.feed_id, else_=limit)
            needed = sa.select(_o.id).where(_o.story_key == _s.key).exists()
            query = (
                sa.select(_s.id)
                .where(_s.fetched_at < before, seen < limit, sa.not_(needed))
                .limit(PRUNE_BATCH)
            )
            return stories, list((await conn.execute(query)).scalars())

        return ids


async def _feed_ids(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> set[int]:
    query = sa.select(_s.feed_id).where(where, _s.feed_id.is_not(None)).distinct()
    return {int(feed) for feed in (await conn.execute(query)).scalars()}


def _utc(value: datetime | str) -> datetime:
    """A max() of a time column: SQLite gives its stored text back, not a datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
