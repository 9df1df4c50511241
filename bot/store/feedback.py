"""Feedback clicks: recorded, listed per rule, and decided once (apply or skip)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from bot.core.model import Feedback
from bot.store.tables import feedback
from bot.store.transactions import SqlBase

_f = feedback.c
PROPOSED = "proposed"
"""The outcome of a click whose change waits for an admin's decision."""


def feedback_from_row(row: RowMapping) -> Feedback:
    """The Feedback dataclass of a `feedback` row."""
    return Feedback(
        id=row["id"],
        rule=row["rule"],
        kind=row["kind"],
        story_key=row["story_key"],
        title=row["title"],
        url=row["url"],
        actor=row["actor"],
        at=row["at"],
        outcome=row["outcome"],
        proposal=row["proposal"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
    )


def _values(item: Feedback) -> dict[str, Any]:
    return {
        "rule": item.rule,
        "kind": item.kind,
        "story_key": item.story_key,
        "title": item.title,
        "url": item.url,
        "actor": item.actor,
        "at": item.at,
        "outcome": item.outcome,
        "proposal": item.proposal,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at,
    }


class FeedbackQueries(SqlBase):
    """The `feedback` table."""

    async def record_feedback(self, item: Feedback) -> int:
        """Store one click (its `id` is ignored); returns the new id."""
        stmt = sa.insert(feedback).values(_values(item)).returning(_f.id)
        async with self._write() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def get_feedback(self, feedback_id: int) -> Feedback | None:
        """One click by id (None if unknown)."""
        async with self._read() as conn:
            row = (
                (await conn.execute(sa.select(feedback).where(_f.id == feedback_id)))
                .mappings()
                .first()
            )
        return feedback_from_row(row) if row else None

    async def feedback_for(self, rule: str, *, limit: int = 20) -> list[Feedback]:
        """The rule's clicks, newest first."""
        query = (
            sa.select(feedback)
            .where(_f.rule == rule)
            .order_by(_f.at.desc(), _f.id.desc())
            .limit(limit)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [feedback_from_row(row) for row in rows]

    async def feedback_counts(self, rule: str) -> dict[tuple[str, str], int]:
        """(kind, outcome) → how many clicks the rule has had."""
        query = (
            sa.select(_f.kind, _f.outcome, sa.func.count())
            .where(_f.rule == rule)
            .group_by(_f.kind, _f.outcome)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {(kind, outcome): int(count) for kind, outcome, count in rows}

    async def decide_feedback(
        self, feedback_id: int, *, outcome: str, actor: str, at: datetime
    ) -> bool:
        """Settle a proposed change (`applied` or `skipped`); False when it was not
        pending any more (decided already, by this or another admin)."""
        stmt = (
            sa.update(feedback)
            .where(_f.id == feedback_id, _f.outcome == PROPOSED)
            .values(outcome=outcome, decided_by=actor, decided_at=at)
        )
        async with self._write() as conn:
            return bool((await conn.execute(stmt)).rowcount)
