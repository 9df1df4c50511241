"""Opening the store: user-facing URLs, clear errors, SQLite connection settings."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.core.errors import ConfigError, StoreError
from bot.store import open_store
from bot.store.engine import database_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/newswatch.db", "sqlite+aiosqlite:///data/newswatch.db"),
        ("sqlite:////var/lib/nw.db", "sqlite+aiosqlite:////var/lib/nw.db"),
        ("sqlite+aiosqlite:///nw.db", "sqlite+aiosqlite:///nw.db"),
        ("postgresql://u@db:5432/nw", "postgresql+asyncpg://u@db:5432/nw"),
        ("postgres://u:secret@db/nw", "postgresql+asyncpg://u:secret@db/nw"),
        ("postgresql+asyncpg://u@db/nw", "postgresql+asyncpg://u@db/nw"),
        ("postgresql+psycopg2://u@db/nw", "postgresql+asyncpg://u@db/nw"),
        ("  postgresql://u@db/nw  ", "postgresql+asyncpg://u@db/nw"),
    ],
)
def test_user_urls_map_to_async_drivers(given: str, expected: str) -> None:
    assert database_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "is not a URL"),
        ("newswatch.db", "is not a URL"),
        ("mysql://u@db/nw", "scheme 'mysql' is not supported"),
        ("sqlite://", "names no SQLite file"),
        ("sqlite:///:memory:", "in-memory databases are not supported"),
        ("postgresql://u:hunter2@db", "names no database"),
    ],
)
def test_bad_urls_are_config_errors(given: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        database_url(given)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_postgres_names_the_server_not_the_password() -> None:
    port = _closed_port()
    with pytest.raises(StoreError) as caught:
        await open_store(f"postgresql://newswatch:hunter2@127.0.0.1:{port}/nw")
    message = str(caught.value)
    assert message.startswith(f"cannot connect to postgresql://newswatch@127.0.0.1:{port}/nw: ")
    assert "hunter2" not in message and "\n" not in message


async def test_sqlite_in_a_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "nw.db"
    with pytest.raises(StoreError, match=f"directory {path.parent} does not exist — create it"):
        await open_store(f"sqlite:///{path}")


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'nw.db'}")
    try:
        async with store.engine.connect() as conn:
            pragmas = [
                (await conn.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
        assert pragmas == ["wal", 1, 30000]
    finally:
        await store.close()


async def test_a_schema_is_postgres_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="schema can only be chosen on PostgreSQL"):
        await open_store(f"sqlite:///{tmp_path / 'nw.db'}", schema="tenant")
