"""Feeds: the list, their polling state, and leased claims of due feeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.errors import DuplicateError, NotFoundError, StoreError
from bot.core.model import DueFeed, Feed, FeedState, PushState, check_feed_interval
from bot.store.base import FeedHealth
from bot.store.codec import decode_time, encode_time
from bot.store.tables import feeds, websub_subscriptions
from bot.store.transactions import SqlBase

_CHUNK = 500
"""URLs per IN (…) lookup: well inside SQLite's and PostgreSQL's parameter limits."""


def feed_from_row(row: RowMapping) -> Feed:
    """The Feed dataclass of a `feeds` row."""
    return Feed(
        id=row["id"],
        url=row["url"],
        name=row["name"],
        enabled=row["enabled"],
        backfill=row["backfill"],
        interval=row["check_interval"],
    )


def state_from_row(row: RowMapping) -> FeedState:
    """The FeedState dataclass of a `feeds` row."""
    return FeedState(
        etag=row["etag"],
        last_modified=row["last_modified"],
        interval_seconds=row["interval_seconds"],
        next_poll_at=row["next_poll_at"],
        last_fetch_at=row["last_fetch_at"],
        last_success_at=row["last_success_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        error_count=row["error_count"],
        primed=row["primed"],
        item_times=tuple(decode_time(t) for t in row["item_times"]),
    )


def state_values(state: FeedState) -> dict[str, Any]:
    """The `feeds` column values that hold a FeedState."""
    return {
        "etag": state.etag,
        "last_modified": state.last_modified,
        "interval_seconds": state.interval_seconds,
        "next_poll_at": state.next_poll_at,
        "last_fetch_at": state.last_fetch_at,
        "last_success_at": state.last_success_at,
        "last_status": state.last_status,
        "last_error": state.last_error,
        "error_count": state.error_count,
        "primed": state.primed,
        "item_times": [encode_time(t) for t in state.item_times],
    }


def new_feed_row(
    url: str, name: str, backfill: int, now: datetime, interval: float | None = None
) -> dict[str, Any]:
    """The `feeds` row of a feed to add (enabled, due at once); StoreError for a bad one."""
    url = url.strip()
    if not url:
        raise StoreError("a feed needs a URL — e.g. feed add https://example.com/rss.xml")
    if backfill < 0:
        raise StoreError(f"backfill must be 0 or more, got {backfill} for {url}")
    return {
        "url": url,
        "name": name.strip() or url,
        "enabled": True,
        "backfill": backfill,
        "check_interval": _checked_interval(interval),
        "created_at": now,
        **state_values(FeedState()),
    }


def _checked_interval(interval: float | None) -> float | None:
    if interval is None:
        return None
    try:
        return check_feed_interval(interval)
    except ValueError as err:
        raise StoreError(str(err)) from None


async def _one_feed(conn: AsyncConnection, url_or_name: str, verb: str) -> RowMapping:
    """The one feed row with this URL, name or id; NotFoundError or StoreError otherwise."""
    wanted = url_or_name.strip()
    where = sa.or_(feeds.c.url == wanted, feeds.c.name == wanted)
    if wanted.isdigit():
        where = sa.or_(where, feeds.c.id == int(wanted))
    rows = (await conn.execute(sa.select(feeds).where(where))).mappings().all()
    if not rows:
        raise NotFoundError(f"no feed with URL, name or id {wanted!r} — see `feeds list`")
    if len(rows) > 1:
        raise StoreError(f"{len(rows)} feeds match {wanted!r} — {verb} one by its URL")
    return rows[0]


def _pushed_among(ids: Sequence[int], now: datetime) -> sa.Select[tuple[int]]:
    """Those of the feeds `ids` with an active WebSub subscription whose lease runs."""
    ws = websub_subscriptions.c
    return sa.select(ws.feed_id).where(
        ws.feed_id.in_(ids), ws.state == PushState.ACTIVE.value, ws.lease_expires_at > now
    )


class FeedQueries(SqlBase):
    """Feed list, feed state and the claim of due feeds."""

    async def add_feed(
        self, url: str, name: str, *, backfill: int = 0, interval: float | None = None
    ) -> Feed:
        """Add a feed, due immediately. DuplicateError if the URL is already known."""
        values = new_feed_row(url, name, backfill, self._clock(), interval)
        url = values["url"]
        stmt = self._insert(feeds).values(values).on_conflict_do_nothing()
        async with self._write() as conn:
            row = (await conn.execute(stmt.returning(*feeds.c))).mappings().first()
        if row is None:
            raise DuplicateError(f"feed {url} is already in the feed list")
        return feed_from_row(row)

    async def add_feeds(
        self,
        specs: Sequence[tuple[str, str, int]],
        *,
        intervals: Mapping[str, float] | None = None,
    ) -> tuple[list[Feed], list[str]]:
        """Add (url, name, backfill) feeds in ONE transaction: all of them or, on any error
        or interruption, none; `intervals` gives some of them (by URL) their own interval.
        Known URLs (and repeats within `specs`) are skipped and returned as the second list."""
        wanted: dict[str, dict[str, Any]] = {}
        skipped: list[str] = []
        now = self._clock()
        own = intervals or {}
        for url, name, backfill in specs:
            values = new_feed_row(url, name, backfill, now, own.get(url))
            if values["url"] in wanted:
                skipped.append(values["url"])
            else:
                wanted[values["url"]] = values
        urls = list(wanted)
        async with self._write() as conn:
            known: set[str] = set()
            for start in range(0, len(urls), _CHUNK):
                chunk = urls[start : start + _CHUNK]
                rows = await conn.execute(sa.select(feeds.c.url).where(feeds.c.url.in_(chunk)))
                known.update(rows.scalars())
            fresh = [wanted[url] for url in urls if url not in known]
            if fresh:
                await conn.execute(sa.insert(feeds), fresh)
            added: list[Feed] = []
            fresh_urls = [row["url"] for row in fresh]
            for start in range(0, len(fresh_urls), _CHUNK):
                chunk = fresh_urls[start : start + _CHUNK]
                result = await conn.execute(sa.select(feeds).where(feeds.c.url.in_(chunk)))
                added.extend(feed_from_row(row) for row in result.mappings())
        skipped.extend(url for url in urls if url in known)
        order = {url: index for index, url in enumerate(urls)}
        added.sort(key=lambda feed: order[feed.url])
        return added, skipped

    async def remove_feed(self, url_or_name: str) -> Feed:
        """Remove a feed by URL, name or id; its stories stay (without a feed)."""
        async with self._write() as conn:
            row = await _one_feed(conn, url_or_name, "remove")
            await conn.execute(sa.delete(feeds).where(feeds.c.id == row["id"]))
        return feed_from_row(row)

    async def set_feed_interval(self, url_or_name: str, interval: float | None) -> Feed:
        """Give a feed its own interval (None: the default); it is checked at once."""
        checked = _checked_interval(interval)
        values = {"check_interval": checked, "next_poll_at": self._clock()}
        async with self._write() as conn:
            row = await _one_feed(conn, url_or_name, "change")
            await conn.execute(sa.update(feeds).where(feeds.c.id == row["id"]).values(values))
        return replace(feed_from_row(row), interval=checked)

    async def list_feeds(self) -> list[FeedHealth]:
        """Every feed with its state, in the order they were added."""
        async with self._read() as conn:
            rows = (await conn.execute(sa.select(feeds).order_by(feeds.c.id))).mappings().all()
        return [FeedHealth(feed=feed_from_row(r), state=state_from_row(r)) for r in rows]

    async def next_check_at(self, now: datetime) -> datetime | None:
        """When the next enabled feed not leased at `now` falls due (`now` for one
        never checked or overdue; None when there is none)."""
        query = sa.select(
            sa.func.min(feeds.c.next_poll_at),
            sa.func.count().filter(feeds.c.next_poll_at.is_(None)),
        ).where(feeds.c.enabled, sa.or_(feeds.c.lease_until.is_(None), feeds.c.lease_until <= now))
        async with self._read() as conn:
            earliest, never = (await conn.execute(query)).one()
        if never:
            return now
        return None if earliest is None else max(now, earliest)

    async def claim_due_feeds(
        self, now: datetime, *, limit: int, owner: str, lease_seconds: float
    ) -> list[DueFeed]:
        """Enabled feeds due at `now` and not leased, most overdue first, leased to `owner`.

        PostgreSQL skips rows another transaction is claiming (SKIP LOCKED);
        SQLite holds the write lock for the select and update.
        """
        if limit <= 0:
            return []
        due = sa.and_(
            feeds.c.enabled,
            sa.or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now),
            sa.or_(feeds.c.lease_until.is_(None), feeds.c.lease_until <= now),
        )
        query = (
            sa.select(feeds)
            .where(due)
            .order_by(feeds.c.next_poll_at.asc().nulls_first(), feeds.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        lease = {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}
        async with self._write() as conn:
            rows = (await conn.execute(query)).mappings().all()
            pushed: set[int] = set()
            if rows:
                ids = [r["id"] for r in rows]
                await conn.execute(sa.update(feeds).where(feeds.c.id.in_(ids)).values(lease))
                pushed = set(await conn.scalars(_pushed_among(ids, now)))
        return [
            DueFeed(feed=feed_from_row(r), state=state_from_row(r), pushed=r["id"] in pushed)
            for r in rows
        ]

    async def save_feed_state(self, feed_id: int, state: FeedState) -> None:
        """Store a feed's state after a poll and release its lease."""
        values = {**state_values(state), "lease_owner": None, "lease_until": None}
        async with self._write() as conn:
            result = await conn.execute(
                sa.update(feeds).where(feeds.c.id == feed_id).values(values)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"no feed with id {feed_id} (was it removed?)")

    async def save_feed_states(self, states: Mapping[int, FeedState]) -> None:
        """Store many feeds' states after a poll, releasing their leases, in one transaction."""
        if not states:
            return
        rows = [
            {"b_id": feed_id, **state_values(state), "lease_owner": None, "lease_until": None}
            for feed_id, state in states.items()
        ]
        columns = [name for name in rows[0] if name != "b_id"]
        # One statement, executed for every row (executemany): compiled once, not per feed.
        statement = (
            sa.update(feeds)
            .where(feeds.c.id == sa.bindparam("b_id"))
            .values({name: sa.bindparam(name) for name in columns})
        )
        async with self._write() as conn:
            await conn.execute(statement, rows)
