"""Stories: dedup lookups, atomic recording with outbox rows, recent stories, and the
slim rows the near-duplicate index pages through."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.model import Delivery, Story
from bot.store.base import ClusterReports, NearDuplicateRow, NewStory, SavedStories
from bot.store.codec import alert_to_dict
from bot.store.follow_ups import apply_follow_ups
from bot.store.tables import OutboxStatus, outbox, stories
from bot.store.transactions import (
    InsertFactory,
    SqlBase,
    batched,
    first_per_key,
    insert_chunks,
    padded,
)

_U64 = 1 << 64
SEEN_EVERY = timedelta(days=1)
"""How stale a stored story's `last_seen_at` may get before a listing refreshes it:
retention counts in days, so one write a day per listed story is enough."""


def signed_fingerprint(value: int) -> int:
    """The fingerprint as a signed 64-bit integer (what BIGINT can hold)."""
    if not -(1 << 63) <= value < _U64:
        raise ValueError(f"fingerprint {value} does not fit in 64 bits")
    return value - _U64 if value >= 1 << 63 else value


def story_values(story: Story) -> dict[str, Any]:
    """The `stories` column values of a Story (empty canonical URL and GUID as NULL)."""
    return {
        "key": story.key,
        "guid": story.guid or None,
        "feed_id": story.feed_id,
        "canonical_url": story.canonical_url or None,
        "title_key": story.title_key,
        "publisher": story.publisher,
        "fingerprint": signed_fingerprint(story.fingerprint),
        "title": story.title,
        "summary": story.summary,
        "content": story.content,
        "url": story.url,
        "published": story.published,
        "fetched_at": story.fetched_at,
    }


def story_from_row(row: RowMapping) -> Story:
    """The Story dataclass of a `stories` row."""
    return Story(
        key=row["key"],
        title=row["title"],
        summary=row["summary"],
        content=row["content"],
        url=row["url"],
        canonical_url=row["canonical_url"] or "",
        publisher=row["publisher"],
        published=row["published"],
        fetched_at=row["fetched_at"],
        guid=row["guid"],
        feed_id=row["feed_id"],
        title_key=row["title_key"],
        fingerprint=row["fingerprint"],
    )


@dataclass
class StoredIdentities:
    """What identifies the stored stories a dedup query found, indexed for lookup."""

    keys: set[str] = field(default_factory=set)
    canonical_urls: set[str] = field(default_factory=set)
    feed_guids: set[tuple[int, str]] = field(default_factory=set)
    titles: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Sequence[RowMapping]) -> StoredIdentities:
        """Index the rows of `_candidates_query`."""
        found = cls()
        for row in rows:
            found.keys.add(row["key"])
            if row["canonical_url"]:
                found.canonical_urls.add(row["canonical_url"])
            if row["guid"] and row["feed_id"] is not None:
                found.feed_guids.add((row["feed_id"], row["guid"]))
            title = (row["publisher"], row["title_key"])
            found.titles.setdefault(title, []).append(row["published"])
        return found

    def has(self, story: Story, window: timedelta) -> bool:
        """Whether `story` is one of these by key, canonical URL, GUID or title."""
        if story.key in self.keys or story.canonical_url in self.canonical_urls:
            return True
        # A GUID only identifies an item within its feed (many feeds number items 1, 2, 3…),
        # so only (feed, GUID) pairs are indexed; a story without a feed never matches here.
        if (story.feed_id, story.guid) in self.feed_guids:
            return True
        if not story.title_key:
            return False
        times = self.titles.get((story.publisher, story.title_key), [])
        return any(abs(t - story.published) <= window for t in times)


def still_listed(
    rows: Sequence[RowMapping], batch: Sequence[Story], seen_at: datetime
) -> list[int]:
    """Ids of the rows that are one of `batch`'s stories by key, canonical URL or
    (feed, GUID) and were last seen more than SEEN_EVERY before `seen_at`."""
    keys = {s.key for s in batch}
    urls = {s.canonical_url for s in batch if s.canonical_url}
    guids = {(s.feed_id, s.guid) for s in batch if s.guid and s.feed_id is not None}
    stale = seen_at - SEEN_EVERY
    return [
        row["id"]
        for row in rows
        if (row["last_seen_at"] or row["fetched_at"]) < stale
        and (
            row["key"] in keys
            or (row["canonical_url"] and row["canonical_url"] in urls)
            or (row["feed_id"], row["guid"]) in guids
        )
    ]


def _candidates_query(batch: Sequence[Story], window: timedelta) -> sa.Select[Any]:
    """One query for every stored row that could match any story of the batch.

    Every IN list is padded (`padded`) to the length of the keys' list, so the
    SQL has one form per length (and whether GUIDs and title keys are asked
    for), not one per combination of the six lists' lengths.
    """
    c = stories.c
    keys = padded({s.key for s in batch})
    size = len(keys)
    criteria: list[sa.ColumnElement[bool]] = [
        c.key.in_(keys),
        c.canonical_url.in_(padded({s.canonical_url for s in batch if s.canonical_url}, size)),
    ]
    guided = [s for s in batch if s.guid and s.feed_id is not None]
    if guided:
        # A GUID identifies an item only within its feed: without the feed scope,
        # every feed's item "1" would come back.
        criteria.append(
            sa.and_(
                c.feed_id.in_(padded({s.feed_id for s in guided}, size)),
                c.guid.in_(padded({s.guid for s in guided}, size)),
            )
        )
    titled = [s for s in batch if s.title_key]
    if titled:
        criteria.append(_same_titles(titled, window, size))
    columns = (
        c.id,
        c.key,
        c.canonical_url,
        c.guid,
        c.feed_id,
        c.title_key,
        c.publisher,
        c.published,
        c.fetched_at,
        c.last_seen_at,
    )
    return sa.select(*columns).where(sa.or_(*criteria))


def _same_titles(titled: Sequence[Story], window: timedelta, size: int) -> sa.ColumnElement[bool]:
    """Rows with one of the publishers and title keys, published within the window
    (the IN lists padded to `size`)."""
    c = stories.c
    return sa.and_(
        c.publisher.in_(padded({s.publisher for s in titled}, size)),
        c.title_key.in_(padded({s.title_key for s in titled}, size)),
        c.published.between(
            min(s.published for s in titled) - window, max(s.published for s in titled) + window
        ),
    )


class StoryQueries(SqlBase):
    """Story dedup and recording."""

    async def known_story_keys(
        self,
        stories: Sequence[Story],
        *,
        title_window_hours: float = 48,
        seen_at: datetime | None = None,
    ) -> set[str]:
        """Keys of `stories` already stored: same key, canonical URL, GUID from the
        same feed (stories without a feed have no GUID scope), or title_key from
        the same publisher within the window.

        One query per batch of stories; the matching itself happens here. With
        `seen_at` (a poll's time), the stored rows the stories are (by key, URL
        or GUID) are marked as still listed then, at most once a day each, so
        retention keeps what a feed still carries.
        """
        window = timedelta(hours=title_window_hours)
        known: set[str] = set()
        listed: list[int] = []
        async with self._read() as conn:
            for batch in batched(stories):
                rows = (await conn.execute(_candidates_query(batch, window))).mappings().all()
                stored = StoredIdentities.from_rows(rows)
                known.update(s.key for s in batch if stored.has(s, window))
                if seen_at is not None:
                    listed += still_listed(rows, batch, seen_at)
        if listed and seen_at is not None:
            await self._mark_listed(listed, seen_at)
        return known

    async def _mark_listed(self, ids: Sequence[int], seen_at: datetime) -> None:
        async with self._write() as conn:
            for batch in batched(sorted(set(ids))):
                stmt = sa.update(stories).where(stories.c.id.in_(padded(batch)))
                await conn.execute(stmt.values(last_seen_at=seen_at))

    async def save_stories(self, items: Sequence[NewStory]) -> SavedStories:
        """Insert new stories and, for those actually inserted, their outbox rows.

        One transaction. A story whose key, canonical URL or (feed, GUID) is
        already stored is skipped by ON CONFLICT DO NOTHING, and so are its
        outbox rows: an alert is never queued twice.
        """
        unique = first_per_key(items, lambda item: item.story.key)
        async with self._write() as conn:
            inserted = await _insert_stories(conn, self._insert, unique)
            rows = [row for item in unique if item.story.key in inserted for row in _outbox(item)]
            queued = await _insert_outbox(conn, self._insert, rows)
            twins = [i for i in unique if i.cluster_key and i.story.key in inserted]
            if twins:
                await apply_follow_ups(conn, twins)
        stored = tuple(i.story.key for i in unique if i.story.key in inserted)
        return SavedStories(stored_keys=stored, outbox_rows=queued)

    async def story_clusters(self, keys: Collection[str]) -> dict[str, ClusterReports]:
        """Each stored story's near-duplicate cluster: its first story and every report."""
        if not keys:
            return {}
        c = stories.c
        async with self._read() as conn:
            roots: dict[str, str] = {}
            for batch in batched(sorted(set(keys))):
                query = sa.select(c.key, c.cluster_key).where(c.key.in_(padded(batch)))
                roots.update({key: root or key for key, root in await conn.execute(query)})
            reports: dict[str, list[tuple[str, datetime]]] = {}
            for batch in batched(sorted(set(roots.values()))):
                members = padded(batch)
                query = sa.select(c.key, c.cluster_key, c.publisher, c.published).where(
                    sa.or_(c.key.in_(members), c.cluster_key.in_(members))
                )
                for row in (await conn.execute(query)).mappings():
                    root = row["cluster_key"] or row["key"]
                    reports.setdefault(root, []).append((row["publisher"], row["published"]))
        return {
            key: ClusterReports(root, tuple(sorted(reports.get(root, []), key=lambda r: r[1])))
            for key, root in roots.items()
        }

    async def recent_stories(self, since: datetime, *, limit: int = 5000) -> list[Story]:
        """Stories published or fetched since `since`, newest first."""
        c = stories.c
        query = (
            sa.select(stories)
            .where(sa.or_(c.published >= since, c.fetched_at >= since))
            .order_by(c.published.desc(), c.id.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [story_from_row(r) for r in rows]

    async def near_duplicate_candidates(
        self,
        since: datetime,
        *,
        after_id: int = 0,
        also_ids: Collection[int] = (),
        limit: int = 1000,
    ) -> list[NearDuplicateRow]:
        """One page of the window's stories above `after_id` (or in `also_ids`),
        in id order: only the columns near-duplicate matching needs."""
        c = stories.c
        async with self._read() as conn:
            if after_id == 0:
                after_id = await _before_window(conn, since)
            wanted = c.id > after_id
            if also_ids:
                wanted = sa.or_(wanted, c.id.in_(padded(set(also_ids))))
            query = (
                sa.select(c.id, c.key, c.title, c.summary, c.published, c.fetched_at, c.fingerprint)
                .where(sa.or_(c.published >= since, c.fetched_at >= since), wanted)
                .order_by(c.id)
                .limit(limit)
            )
            rows = (await conn.execute(query)).mappings().all()
        return [NearDuplicateRow(**row) for row in rows]

    async def find_near_duplicate(
        self, story: Story, *, since: datetime, max_distance: int
    ) -> Story | None:
        """The stored story (other than `story` itself) seen since `since` whose
        fingerprint is closest to `story`'s, if within `max_distance` bits.

        A fingerprint of 0 means "none" and never matches. Ties go to the
        earliest stored story, the one an alert most likely went out for.
        """
        if story.fingerprint == 0:
            return None
        target = signed_fingerprint(story.fingerprint)
        c = stories.c
        query = sa.select(c.id, c.fingerprint).where(
            sa.or_(c.published >= since, c.fetched_at >= since),
            c.fingerprint != 0,
            c.key != story.key,
        )
        async with self._read() as conn:
            best: tuple[int, int] | None = None
            for row_id, fingerprint in await conn.execute(query.order_by(c.id)):
                distance = ((fingerprint ^ target) & (_U64 - 1)).bit_count()
                if distance <= max_distance and (best is None or distance < best[0]):
                    best = (distance, row_id)
            if best is None:
                return None
            row = (await conn.execute(sa.select(stories).where(c.id == best[1]))).mappings().one()
        return story_from_row(row)

    async def get_story(self, key: str) -> Story | None:
        """A recorded story by its key, or None if it was never stored."""
        query = sa.select(stories).where(stories.c.key == key)
        async with self._read() as conn:
            row = (await conn.execute(query)).mappings().first()
        return story_from_row(row) if row else None


async def _before_window(conn: AsyncConnection, since: datetime) -> int:
    """The id just below the first story published or fetched since `since`.

    Found through the `published` and `fetched_at` indexes; an id-ordered scan
    from 0 (what SQLite plans for the page query) would read every older row.
    `min(id + 0)`, not `min(id)`: for the latter SQLite walks the table in id
    order to the first match (74 ms vs 0.8 ms with 55,000 older rows).
    """
    c = stories.c
    firsts = [
        await conn.scalar(sa.select(sa.func.min(c.id + 0)).where(column >= since))
        for column in (c.published, c.fetched_at)
    ]
    known = [int(first) for first in firsts if first is not None]
    if known:
        return min(known) - 1
    return int(await conn.scalar(sa.select(sa.func.max(c.id))) or 0)


def _outbox(item: NewStory) -> list[dict[str, Any]]:
    """The alert's outbox rows: pending for each destination it goes to at once,
    held for each where it waits (a destination in both gets it at once)."""
    if item.alert is None:
        return []
    alert = alert_to_dict(item.alert)
    at = item.story.fetched_at
    deliveries = [Delivery(d) for d in item.destinations] + list(item.held)
    rows = []
    for delivery in first_per_key(deliveries, lambda d: d.destination):
        held = delivery.release_at is not None
        rows.append(
            {
                "story_key": item.story.key,
                "platform": delivery.destination.platform,
                "chat_id": delivery.destination.chat_id,
                "alert": alert,
                "status": (OutboxStatus.HELD if held else OutboxStatus.PENDING).value,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
                "release_at": delivery.release_at,
                "hold": delivery.hold.value if held and delivery.hold else None,
                "urgent": item.alert.urgent,
            }
        )
    return rows


async def _insert_stories(
    conn: AsyncConnection, insert: InsertFactory, items: list[NewStory]
) -> set[str]:
    """Insert the stories, skipping stored ones; returns the keys actually inserted.

    An executemany per chunk (`insert_chunks`: few distinct row counts, so few
    prepared statements kept): SQLAlchemy compiles the statement once and sends
    the rows as multi-row INSERTs ("insertmanyvalues"), where `.values([...])`
    would compile a new statement of 13 bound parameters per row for every batch.
    """
    stmt = insert(stories).on_conflict_do_nothing().returning(stories.c.key)
    values = [story_values(i.story) | {"cluster_key": i.cluster_key} for i in items]
    inserted: set[str] = set()
    for chunk in insert_chunks(values):
        inserted.update((await conn.execute(stmt, chunk)).scalars())
    return inserted


async def _insert_outbox(
    conn: AsyncConnection, insert: InsertFactory, rows: list[dict[str, Any]]
) -> int:
    """Insert the outbox rows (an executemany per `insert_chunks` chunk), skipping
    duplicates; returns how many."""
    stmt = insert(outbox).on_conflict_do_nothing().returning(outbox.c.id)
    queued = 0
    for chunk in insert_chunks(rows):
        queued += len((await conn.execute(stmt, chunk)).scalars().all())
    return queued
