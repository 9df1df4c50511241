"""`SqlStore`: the Store protocol on SQLite (embedded) and PostgreSQL (scale-out).

    store = await open_store("sqlite:///data/newswatch.db")   # migrates to head
    ...
    await store.close()

The queries live in one mixin per area (feeds, stories, rules, subscriptions,
outbox, WebSub subscriptions); this module combines them, adds the small key/value table and opens
the store.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import StoreError
from bot.store.engine import connect_error, create_engine, database_url
from bot.store.entities import EntityQueries
from bot.store.feedback import FeedbackQueries
from bot.store.feeds import FeedQueries
from bot.store.holds import HoldQueries
from bot.store.leases import LeaseQueries
from bot.store.lookup import StoryLookupQueries
from bot.store.migrate import at_head_without_alembic, require_head, upgrade_engine
from bot.store.notices import NoticeQueries
from bot.store.outbox import OutboxQueries
from bot.store.retention import RetentionQueries
from bot.store.rules import RuleQueries
from bot.store.stories import StoryQueries
from bot.store.subscriptions import SubscriptionQueries
from bot.store.tables import meta
from bot.store.transactions import Clock
from bot.store.websub import WebSubQueries


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


class SqlStore(
    FeedQueries,
    StoryQueries,
    StoryLookupQueries,
    RuleQueries,
    SubscriptionQueries,
    OutboxQueries,
    HoldQueries,
    LeaseQueries,
    FeedbackQueries,
    NoticeQueries,
    RetentionQueries,
    EntityQueries,
    WebSubQueries,
):
    """Everything newswatch persists, in one SQL database (see `bot.store.base.Store`)."""

    async def get_meta(self, key: str) -> str | None:
        """A small piece of saved state (None if never set)."""
        async with self._read() as conn:
            return await conn.scalar(sa.select(meta.c.value).where(meta.c.key == key))

    async def set_meta(self, key: str, value: str) -> None:
        """Save a small piece of state, replacing the old value."""
        stmt = self._insert(meta).values(key=key, value=value)
        stmt = stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": value})
        async with self._write() as conn:
            await conn.execute(stmt)


async def open_store(
    url: str, *, migrate: bool = True, schema: str | None = None, clock: Clock = utc_now
) -> SqlStore:
    """Open the store at a database URL, migrating the schema to head first.

    `url` is what users write: `sqlite:///path.db`, `postgresql://user@host/db`,
    `postgres://…` or an explicit async driver URL. With `migrate=False` the
    schema must already be at head (StoreError otherwise). `schema` selects a
    PostgreSQL schema (search_path); `clock` stamps rows whose protocol
    method takes no time (subscriptions, feed creation).
    Raises ConfigError for a bad URL, StoreError when the database is unreachable.
    """
    engine = await _connected_engine(url, schema)
    try:
        if migrate:
            await upgrade_engine(engine)
        else:
            await require_head(engine)
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(engine, clock=clock)


async def upgrade(url: str, *, schema: str | None = None) -> None:
    """Apply pending migrations to the database at `url` (`newswatch db upgrade`)."""
    engine = await _connected_engine(url, schema)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def upgrade_apart(url: str, *, schema: str | None = None) -> None:
    """Migrate the database at `url` to head in a child process, when it is not there yet.

    What `newswatch run` does before it opens the store: Alembic and the
    migration scripts stay resident once imported (~11 MB, the service's
    largest one-off cost after the topic model), so a first start or an
    upgrade imports them in `python -m bot.store.upgrade_child`, which exits
    when done. A database already at head (every restart) costs one query.
    The child's failure is raised here as the same one-line StoreError.
    """
    engine = await _connected_engine(url, schema)
    try:
        if await at_head_without_alembic(engine):
            return
    finally:
        await engine.dispose()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.store.upgrade_child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    request = json.dumps({"url": url, "schema": schema})
    _, errors = await child.communicate(request.encode())
    if child.returncode != 0:
        lines = errors.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else f"the migration process exited with {child.returncode}"
        if not reason.startswith("migrating"):
            reason = f"migrating the database failed: {reason}"
        raise StoreError(reason)


async def _connected_engine(url: str, schema: str | None) -> AsyncEngine:
    """An engine that has just connected once, so a bad address fails here, clearly."""
    parsed = database_url(url)
    engine = create_engine(parsed, schema=schema)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        await engine.dispose()
        raise connect_error(parsed, exc) from exc
    return engine
