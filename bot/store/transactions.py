"""The shared base of the SQL store: transactions, dialect choices, error mapping.

Every query module (feeds, stories, rules, subscriptions, outbox) is a mixin on
`SqlBase`; `bot.store.sql.SqlStore` combines them. SQLAlchemy and driver
errors, and the socket errors of a database that cannot be reached (a refused
or reset connection surfaces as a bare `OSError`), are turned into `StoreError`
here, where they enter our code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from itertools import islice
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.errors import StoreError
from bot.store.engine import READ_ONLY_OPTION, driver_reason

Clock = Callable[[], datetime]
InsertFactory = Callable[[sa.Table], postgresql.Insert | sqlite.Insert]
"""`SqlBase._insert`: an INSERT with ON CONFLICT support for the current backend."""
T = TypeVar("T")

# Rows per multi-row INSERT or IN list: far below SQLite's 32766 bound parameters.
BATCH_SIZE = 500
INSERT_ROWS = 64
"""The most rows one multi-row INSERT carries (`insert_chunks`)."""


class SqlBase:
    """An engine, a clock and the transaction helpers every query mixin uses."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine (for migrations and tests; queries stay in the store)."""
        return self._engine

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._engine.dialect.name

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One read-write transaction (SQLite: holding the write lock from the start)."""
        try:
            async with self._engine.begin() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"database write failed: {driver_reason(exc)}") from exc

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """One read-only transaction: a consistent snapshot, no write lock."""
        try:
            async with self._engine.connect() as conn:
                await conn.execution_options(**{READ_ONLY_OPTION: True})
                async with conn.begin():
                    yield conn
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"database read failed: {driver_reason(exc)}") from exc

    def _insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT supporting ON CONFLICT on this backend."""
        if self.backend == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)


def batched(items: Iterable[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def first_per_key(items: Sequence[T], key: Callable[[T], object]) -> list[T]:
    """The items in order, keeping only the first one for each key."""
    seen: set[object] = set()
    kept: list[T] = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            kept.append(item)
    return kept


def padded(values: Collection[T], at_least: int = 8) -> list[T]:
    """`values` with the last one repeated up to the next power of two (at least
    `at_least`, which should be one too).

    An IN list is sent as one `?` per value, so every list length is another SQL
    text, and SQLite keeps up to 128 prepared statements per connection by text:
    unpadded, a poll's dedup queries (thousands of parameters each) left ~20 MB
    of statements behind and were prepared afresh every time. Repeats in an IN
    list change nothing.
    """
    items = list(values)
    if not items:
        return items
    size = max(at_least, 1 << (len(items) - 1).bit_length())
    return items + [items[-1]] * (size - len(items))


def insert_chunks(rows: Sequence[T], largest: int = INSERT_ROWS) -> Iterator[Sequence[T]]:
    """`rows` in consecutive chunks of `largest` rows (a power of two), the rest in
    chunks of decreasing powers of two: 100 rows go as 64 + 32 + 4.

    An executemany INSERT is sent as multi-row INSERTs ("insertmanyvalues"), one
    SQL text per row count, and SQLite keeps up to 128 prepared statements per
    connection by text, each with its compiled program (about 3 KB a row for
    `stories`). Unchunked, a cold poll of 1,000 feeds left 26 MB of INSERTs of up
    to 1,000 rows each behind (benchmarks/poll_cycle.md, "Where the poll's memory
    goes"); chunked, an INSERT has at most 7 forms (1, 2, 4, ..., 64 rows).
    """
    whole = len(rows) - len(rows) % largest
    for start in range(0, whole, largest):
        yield rows[start : start + largest]
    start, size = whole, largest // 2
    while start < len(rows):
        if len(rows) - start >= size:
            yield rows[start : start + size]
            start += size
        size //= 2
