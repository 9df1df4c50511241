"""Store backends for the contract tests: SQLite always, PostgreSQL when configured.

Set NEWSWATCH_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)
to run every store test against PostgreSQL too. Each PostgreSQL test gets a
fresh schema (via search_path), dropped afterwards, so runs never interfere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.store import SqlStore, open_store
from bot.store.engine import database_url

POSTGRES_URL_VARIABLE = "NEWSWATCH_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = f"set {POSTGRES_URL_VARIABLE} to run the PostgreSQL store tests"


@dataclass(frozen=True)
class StoreTarget:
    """An empty database to open stores on: a URL and, on PostgreSQL, a schema."""

    backend: str
    url: str
    schema: str | None = None

    async def open(self, *, migrate: bool = True) -> SqlStore:
        """A store on this database (migrating it unless told not to)."""
        return await open_store(self.url, migrate=migrate, schema=self.schema)


async def _run_admin_sql(url: str, statement: str) -> None:
    engine = create_async_engine(database_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreTarget]:
    """An empty database on each backend (PostgreSQL skipped unless configured)."""
    if request.param == "sqlite":
        yield StoreTarget("sqlite", f"sqlite:///{tmp_path / 'newswatch.db'}")
        return
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(POSTGRES_SKIP_REASON)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    await _run_admin_sql(url, f'CREATE SCHEMA "{schema}"')
    try:
        yield StoreTarget("postgres", url, schema)
    finally:
        await _run_admin_sql(url, f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
async def store(store_target: StoreTarget) -> AsyncIterator[SqlStore]:
    """A migrated store on each backend."""
    opened = await store_target.open()
    try:
        yield opened
    finally:
        await opened.close()
