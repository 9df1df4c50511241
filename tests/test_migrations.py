"""Alembic migrations: they build the schema from nothing, are idempotent, and
match the tables the code queries (an `alembic check` on every backend)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.core.errors import StoreError
from bot.store import migrate, upgrade, upgrade_apart
from bot.store.engine import create_engine, database_url
from bot.store.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    scripted_head,
)
from bot.store.tables import metadata
from tests.conftest import StoreTarget

TABLES = set(metadata.tables)
ROOT = Path(__file__).resolve().parents[1]


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


def test_the_head_read_as_text_is_alembics() -> None:
    assert scripted_head() == head_revision()


def test_a_head_not_read_as_text_is_left_to_alembic(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (versions / "0002_b.py").write_text('revision: str = "0002"\ndown_revision = "0001"\n')
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", tmp_path)
    assert scripted_head() == "0002"
    (versions / "0003_c.py").write_text('revision = "0003"\ndown_revision = "0001"\n')
    assert scripted_head() is None  # two heads
    (versions / "0003_c.py").write_text('revision = "0003"\ndown_revision = ("0001", "0002")\n')
    assert scripted_head() is None  # a merge


OPEN_TWICE = """
import asyncio, sys
from bot.store import open_store

async def main(url: str) -> None:
    for migrate in (True, False):  # at head: neither opening needs Alembic
        store = await open_store(url, migrate=migrate)
        await store.close()
    print(sorted(name for name in sys.modules if name.split(".")[0] == "alembic"))

asyncio.run(main(sys.argv[1]))
"""


def test_a_database_at_head_opens_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'at-head.db'}"
    asyncio.run(upgrade(url))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", OPEN_TWICE, url], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "[]", done.stderr[-2000:]


MIGRATE_APART = """
import asyncio, sys
from bot.store import upgrade_apart

asyncio.run(upgrade_apart(sys.argv[1], schema=sys.argv[2] or None))
print(sorted(name for name in sys.modules if name.split(".")[0] == "alembic"))
"""


def test_the_service_migrates_a_new_database_in_a_child_process(
    store_target: StoreTarget,
) -> None:
    """`newswatch run`'s first start: the schema reaches head, and Alembic is
    imported only by the child (python -m bot.store.upgrade_child), never by
    the long-running process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", MIGRATE_APART, store_target.url, store_target.schema or ""],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "[]", done.stderr[-2000:]

    async def at_head() -> None:
        store = await store_target.open(migrate=False)  # StoreError unless at head
        await store.close()

    asyncio.run(at_head())


def test_a_child_migration_that_fails_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'unknown-revision.db'}"

    async def scenario() -> None:
        engine = create_engine(database_url(url))
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            await conn.execute(text("INSERT INTO alembic_version VALUES ('fffffffffff')"))
        await engine.dispose()
        with pytest.raises(StoreError) as raised:
            await upgrade_apart(url)
        message = str(raised.value)
        assert message.startswith("migrating the database failed: ")
        assert "fffffffffff" in message and "\n" not in message

    asyncio.run(scenario())
