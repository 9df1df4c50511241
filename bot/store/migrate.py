"""Alembic, run from code: the only way newswatch's schema is made or changed.

The migration scripts ship inside the package (`bot/store/migrations`), and
the Alembic Config is built here, so no alembic.ini is needed at run time.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import StoreError
from bot.core.resources import package_path
from bot.store.engine import driver_reason

MIGRATIONS_DIR = package_path("bot.store", "migrations")

# Any constant works; it only has to be the same for every newswatch instance.
_POSTGRES_MIGRATION_LOCK = 0x6E657773


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations, bound to `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version of newswatch."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR} — reinstall newswatch")
    return head


async def upgrade_engine(engine: AsyncEngine) -> None:
    """Apply every pending migration, in one transaction where the backend allows.

    On PostgreSQL an advisory lock makes instances that start together
    migrate one after the other instead of racing.
    """
    try:
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_MIGRATION_LOCK}
                )
            await conn.run_sync(_upgrade_to_head)
    except SQLAlchemyError as exc:
        raise StoreError(f"migrating the database failed: {driver_reason(exc)}") from exc


def _upgrade_to_head(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def require_head(engine: AsyncEngine) -> None:
    """StoreError unless the database schema is at this version's head."""
    current = await current_revision(engine)
    head = head_revision()
    if current != head:
        raise StoreError(
            f"database schema is at revision {current or 'none (empty)'}, this newswatch "
            f"needs {head} — run `newswatch db upgrade`"
        )
