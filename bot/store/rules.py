"""Rules edited by admins (an overlay over the YAML file) and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.errors import NotFoundError, StoreError
from bot.core.model import Change, Rule
from bot.store.codec import rule_to_dict, topic_from_dict, topic_to_dict
from bot.store.tables import changes, rules
from bot.store.transactions import SqlBase

RULE_KIND = "rule"


def rule_from_row(row: RowMapping) -> Rule:
    """The Rule dataclass of a live `rules` row."""
    topic = row["topic"]
    return Rule(
        name=row["name"],
        query=row["query"],
        description=row["description"],
        enabled=row["enabled"],
        topic=topic_from_dict(topic) if topic else None,
        urgent=row["urgent"],
    )


def change_from_row(row: RowMapping) -> Change:
    """The Change dataclass of a `changes` row."""
    return Change(
        kind=row["kind"],
        name=row["name"],
        action=row["action"],
        actor=row["actor"],
        at=row["at"],
        before=row["before"],
        after=row["after"],
    )


def change_values(change: Change) -> dict[str, Any]:
    """The `changes` column values of a Change."""
    return {
        "kind": change.kind,
        "name": change.name,
        "action": change.action,
        "actor": change.actor,
        "at": change.at,
        "before": change.before,
        "after": change.after,
    }


async def _stored_rule(conn: AsyncConnection, name: str) -> RowMapping | None:
    """The `rules` row of that name (live or deleted), locked until the transaction ends."""
    query = sa.select(rules).where(rules.c.name == name).with_for_update()
    return (await conn.execute(query)).mappings().first()


class RuleQueries(SqlBase):
    """The rule overlay and the audit trail of admin changes."""

    async def list_rules(self) -> list[Rule]:
        """Rules stored by admins and not deleted, by name."""
        query = sa.select(rules).where(sa.not_(rules.c.deleted)).order_by(rules.c.name)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [rule_from_row(r) for r in rows]

    async def deleted_rule_names(self) -> set[str]:
        """Names of rules an admin deleted (they hide the YAML rule of that name)."""
        async with self._read() as conn:
            names = await conn.scalars(sa.select(rules.c.name).where(rules.c.deleted))
            return set(names)

    async def save_rule(self, rule: Rule, *, actor: str, at: datetime) -> None:
        """Insert or replace a rule (undeleting it) and audit the change."""
        if not rule.name.strip():
            raise StoreError("a rule needs a name — e.g. rule add drone_strike <query>")
        values = {
            "query": rule.query,
            "description": rule.description,
            "enabled": rule.enabled,
            "topic": topic_to_dict(rule.topic) if rule.topic else None,
            "urgent": rule.urgent,
            "deleted": False,
            "updated_at": at,
            "updated_by": actor,
        }
        stmt = self._insert(rules).values(name=rule.name, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[rules.c.name], set_=values)
        async with self._write() as conn:
            row = await _stored_rule(conn, rule.name)
            before = rule_from_row(row) if row and not row["deleted"] else None
            await conn.execute(stmt)
            await _record(conn, "edit" if before else "add", rule.name, actor, at, before, rule)

    async def delete_rule(self, name: str, *, actor: str, at: datetime) -> None:
        """Mark a rule deleted (also a YAML-only one) and audit the change.

        NotFoundError if it is already deleted.
        """
        values = {"deleted": True, "updated_at": at, "updated_by": actor}
        stmt = self._insert(rules).values(
            name=name, query="", description="", enabled=False, topic=None, **values
        )
        stmt = stmt.on_conflict_do_update(index_elements=[rules.c.name], set_=values)
        async with self._write() as conn:
            row = await _stored_rule(conn, name)
            if row and row["deleted"]:
                raise NotFoundError(f"rule {name!r} is already deleted")
            before = rule_from_row(row) if row else None
            await conn.execute(stmt)
            await _record(conn, "remove", name, actor, at, before, None)

    async def history(self, kind: str, name: str, *, limit: int = 20) -> list[Change]:
        """Audited changes of one rule, feed or subscription, newest first."""
        query = (
            sa.select(changes)
            .where(changes.c.kind == kind, changes.c.name == name)
            .order_by(changes.c.at.desc(), changes.c.id.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [change_from_row(r) for r in rows]

    async def record_change(self, change: Change) -> None:
        """Append one change to the audit trail."""
        async with self._write() as conn:
            await conn.execute(sa.insert(changes).values(change_values(change)))


async def _record(
    conn: AsyncConnection,
    action: str,
    name: str,
    actor: str,
    at: datetime,
    before: Rule | None,
    after: Rule | None,
) -> None:
    change = Change(
        kind=RULE_KIND,
        name=name,
        action=action,
        actor=actor,
        at=at,
        before=rule_to_dict(before) if before else None,
        after=rule_to_dict(after) if after else None,
    )
    await conn.execute(sa.insert(changes).values(change_values(change)))
