"""Alembic migrations: they build the schema from nothing, are idempotent, and
match the tables the code queries (an `alembic check` on every backend)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.core.errors import StoreError
from bot.store import upgrade
from bot.store.migrate import MIGRATIONS_DIR, alembic_config, current_revision, head_revision
from bot.store.tables import metadata
from tests.conftest import StoreTarget

TABLES = set(metadata.tables)


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_builds_every_table_on_an_empty_database(store_target: StoreTarget) -> None:
    await upgrade(store_target.url, schema=store_target.schema)
    store = await store_target.open(migrate=False)
    try:
        assert await current_revision(store.engine) == head_revision()
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_table_names) == TABLES | {"alembic_version"}
    finally:
        await store.close()


async def test_upgrading_twice_changes_nothing(store_target: StoreTarget) -> None:
    store = await store_target.open()
    try:
        await store.set_meta("kept", "yes")
        await upgrade(store_target.url, schema=store_target.schema)
        assert await current_revision(store.engine) == head_revision()
        assert await store.get_meta("kept") == "yes"
    finally:
        await store.close()


async def test_migrations_match_the_tables_in_code(store_target: StoreTarget) -> None:
    store = await store_target.open()
    try:
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await store.close()


async def test_opening_without_migrating_needs_an_upgraded_database(
    store_target: StoreTarget,
) -> None:
    with pytest.raises(StoreError, match=r"schema is at revision none .*`newswatch db upgrade`"):
        await store_target.open(migrate=False)


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    shipped = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    assert shipped[0].startswith("0001_")
    assert shipped[-1].startswith(f"{head_revision()}_")


def _downgrade_to_base(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "base")


async def test_every_migration_downgrades_and_upgrades_again(store_target: StoreTarget) -> None:
    store = await store_target.open()
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(_downgrade_to_base)
            assert await conn.run_sync(_table_names) == {"alembic_version"}
        await upgrade(store_target.url, schema=store_target.schema)
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await store.close()
