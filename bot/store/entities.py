"""Names admins added to the entity classes (`entity add`), audited in `changes`."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from bot.core.errors import DuplicateError, NotFoundError
from bot.core.model import Change, EntityEntry
from bot.store.rules import change_values
from bot.store.tables import changes, entity_names
from bot.store.transactions import SqlBase

ENTITY_KIND = "entity"


def entry_from_row(row: RowMapping) -> EntityEntry:
    """The EntityEntry of an `entity_names` row."""
    return EntityEntry(
        entity_class=row["entity_class"],
        name=row["name"],
        entity=row["entity"],
        added_by=row["added_by"],
        added_at=row["added_at"],
    )


def _audited(entry: EntityEntry) -> dict[str, object]:
    return {"class": entry.entity_class, "name": entry.name, "entity": entry.entity}


class EntityQueries(SqlBase):
    """Admins' additions to the entity classes."""

    async def list_entity_names(self) -> list[EntityEntry]:
        """Every added name, by class and then in the order added."""
        query = sa.select(entity_names).order_by(entity_names.c.entity_class, entity_names.c.id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [entry_from_row(row) for row in rows]

    async def add_entity_name(self, entry: EntityEntry, *, actor: str, at: datetime) -> None:
        """Add a name to a class and audit it; DuplicateError if the class already has it."""
        where = (entity_names.c.entity_class == entry.entity_class) & (
            entity_names.c.name == entry.name
        )
        values = {
            "entity_class": entry.entity_class,
            "name": entry.name,
            "entity": entry.entity,
            "added_by": actor,
            "added_at": at,
        }
        async with self._write() as conn:
            if (await conn.execute(sa.select(entity_names.c.id).where(where))).first():
                raise DuplicateError(f"@{entry.entity_class} already has {entry.name!r}")
            await conn.execute(sa.insert(entity_names).values(values))
            change = Change(
                ENTITY_KIND, entry.entity_class, "add", actor, at, None, _audited(entry)
            )
            await conn.execute(sa.insert(changes).values(change_values(change)))

    async def remove_entity_name(
        self, entity_class: str, name: str, *, actor: str, at: datetime
    ) -> EntityEntry:
        """Remove an added name and audit it; NotFoundError if no admin added it."""
        where = (entity_names.c.entity_class == entity_class) & (entity_names.c.name == name)
        async with self._write() as conn:
            row = (await conn.execute(sa.select(entity_names).where(where))).mappings().first()
            if row is None:
                raise NotFoundError(f"no added name {name!r} in @{entity_class}")
            entry = entry_from_row(row)
            await conn.execute(sa.delete(entity_names).where(where))
            change = Change(ENTITY_KIND, entity_class, "remove", actor, at, _audited(entry), None)
            await conn.execute(sa.insert(changes).values(change_values(change)))
        return entry
