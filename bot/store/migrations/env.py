"""Alembic environment for newswatch: online only, on a connection we pass in.

`bot.store.migrate` builds the Alembic Config in code and puts an open
(synchronous facade of an async) connection in `config.attributes["connection"]`;
there is no alembic.ini and no URL here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.store.tables import metadata


def run_migrations(connection: Connection) -> None:
    """Apply the pending migrations on `connection`."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _connection_from_config() -> Connection:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "newswatch migrations run through `newswatch db upgrade` "
            "(bot.store.migrate), not the alembic command line"
        )
    return connection


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run `newswatch db upgrade`")
run_migrations(_connection_from_config())
