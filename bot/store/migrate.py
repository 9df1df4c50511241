"""Alembic, run from code: the only way newswatch's schema is made or changed.

The migration scripts ship inside the package (`bot/store/migrations`), and
the Alembic Config is built here, so no alembic.ini is needed at run time.

Alembic itself (~11 MB resident once imported) is imported only when there
is something to migrate or to explain: a database already at the packaged
head, the usual case when the service restarts, is recognised by reading
`alembic_version` with plain SQL and the scripts' `revision` lines as text.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import StoreError
from bot.core.resources import package_path
from bot.store.engine import driver_reason

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = package_path("bot.store", "migrations")

# Any constant works; it only has to be the same for every newswatch instance.
_POSTGRES_MIGRATION_LOCK = 0x6E657773


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations, bound to `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version of newswatch."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {MIGRATIONS_DIR} — reinstall newswatch")
    return head


_REVISION_LINE = re.compile(
    r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:\"(\w+)\"|'(\w+)'|(None))\s*$", re.M
)


def scripted_head() -> str | None:
    """`head_revision()` read from the scripts as text, without importing Alembic.

    None unless every script names its revision and its one parent (or None)
    in a plain line and they form a single head; then Alembic has to decide.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {
            name: quoted or single or None
            for name, quoted, single, _ in _REVISION_LINE.findall(script.read_text("utf-8"))
        }
        revision = found.get("revision")
        if revision is None or "down_revision" not in found:
            return None
        revisions.add(revision)
        if (parent := found["down_revision"]) is not None:
            parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def at_head_without_alembic(engine: AsyncEngine) -> bool:
    """True when the database is known to be at the head, found without Alembic."""
    head = scripted_head()
    if head is None:
        return False
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    except SQLAlchemyError:  # no such table yet: an empty database
        return False
    return [row[0] for row in stored] == [head]


async def upgrade_engine(engine: AsyncEngine) -> None:
    """Apply every pending migration, in one transaction where the backend allows.

    On PostgreSQL an advisory lock makes instances that start together
    migrate one after the other instead of racing. A database already at
    head is left alone without importing Alembic.
    """
    if await at_head_without_alembic(engine):
        return
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
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def require_head(engine: AsyncEngine) -> None:
    """StoreError unless the database schema is at this version's head."""
    if await at_head_without_alembic(engine):
        return
    current = await current_revision(engine)
    head = head_revision()
    if current != head:
        raise StoreError(
            f"database schema is at revision {current or 'none (empty)'}, this newswatch "
            f"needs {head} — run `newswatch db upgrade`"
        )
