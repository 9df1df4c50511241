"""Database URLs and engines: user-facing URLs in, tuned async engines out.

Users write `sqlite:///data/newswatch.db` or `postgresql://user@host/db`; the
store always runs on the async drivers (aiosqlite, asyncpg). SQLite gets WAL,
foreign keys and a busy timeout, and write transactions take the write lock
up front (`BEGIN IMMEDIATE`) so a claim's select and update cannot interleave
with another writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.core.errors import ConfigError, StoreError

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
READ_ONLY_OPTION = "newswatch_read_only"
"""Connection execution option: this transaction only reads (plain BEGIN on SQLite)."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}
_POSTGRES_SCHEMES = {
    "postgres",
    "postgresql",
    "postgresql+asyncpg",
    "postgresql+psycopg",
    "postgresql+psycopg2",
}
_URL_EXAMPLES = "use sqlite:///path/to/newswatch.db or postgresql://user@host:5432/dbname"


def database_url(text: str) -> URL:
    """The async-driver URL for a user-facing database URL; ConfigError if unusable."""
    try:
        url = make_url(text.strip())
    except ArgumentError as exc:
        raise ConfigError(f"database URL {text!r} is not a URL — {_URL_EXAMPLES}") from exc
    scheme = url.drivername.lower()
    if scheme in _SQLITE_SCHEMES:
        if not url.database or url.database == ":memory:":
            raise ConfigError(
                f"database URL {redacted(url)!r} names no SQLite file — "
                "use sqlite:///path/to/newswatch.db (in-memory databases are not supported)"
            )
        return url.set(drivername=SQLITE_DRIVER)
    if scheme in _POSTGRES_SCHEMES:
        if not url.database:
            raise ConfigError(f"database URL {redacted(url)!r} names no database — {_URL_EXAMPLES}")
        return url.set(drivername=POSTGRES_DRIVER)
    raise ConfigError(f"database URL scheme {url.drivername!r} is not supported — {_URL_EXAMPLES}")


def redacted(url: URL) -> str:
    """The URL without its password and driver suffix, safe for logs and errors."""
    safe = URL.create(url.get_backend_name(), username=url.username, host=url.host, port=url.port)
    return safe.set(database=url.database).render_as_string(hide_password=True)


def create_engine(url: URL, *, schema: str | None = None) -> AsyncEngine:
    """An async engine for a URL from `database_url`.

    `schema` (PostgreSQL only) sets the connection's search_path, so one
    database can hold several isolated newswatch schemas (tests use this).
    """
    if url.get_backend_name() == "sqlite":
        if schema is not None:
            raise ConfigError("a schema can only be chosen on PostgreSQL — drop it for SQLite")
        return _sqlite_engine(url)
    return _postgres_engine(url, schema)


def _postgres_engine(url: URL, schema: str | None) -> AsyncEngine:
    connect_args: dict[str, Any] = {}
    if schema is not None:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    directory = Path(url.database or "").expanduser().parent
    if not directory.is_dir():
        # Checked up front: the driver's own error ("unable to open database file") says less.
        raise StoreError(
            f"cannot open SQLite database {url.database}: directory {directory} does not exist "
            "— create it (or set the data directory) first"
        )
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy (see the `begin` hook below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        "synchronous=NORMAL",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _begin_sqlite_transaction(conn: Connection) -> None:
    read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def connect_error(url: URL, exc: BaseException) -> StoreError:
    """The one-line StoreError for a database we could not reach or open."""
    reason = driver_reason(exc)
    if url.get_backend_name() == "sqlite":
        return StoreError(
            f"cannot open SQLite database {url.database}: {reason} — "
            "check that its directory exists and is writable"
        )
    return StoreError(f"cannot connect to {redacted(url)}: {reason}")


def driver_reason(exc: BaseException) -> str:
    """The driver's own message, first line only, without SQLAlchemy's decoration."""
    origin: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        origin = exc.orig
    text = str(origin).strip() or type(origin).__name__
    return text.splitlines()[0]
