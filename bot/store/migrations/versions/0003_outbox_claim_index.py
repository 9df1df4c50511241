"""Outbox claim index: (status, platform, chat_id, id) for every row, not a partial one.

The claim query finds each destination's oldest pending row with
`min(id) … WHERE status = ? GROUP BY platform, chat_id`. SQLite cannot use a
partial index when the status is a bound parameter, so it sorted every pending
row; this full index serves that query as a covering index scan on both
backends.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending_destination")
        batch_op.create_index(
            batch_op.f("ix_outbox_status_platform_chat_id_id"),
            ["status", "platform", "chat_id", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_status_platform_chat_id_id"))
        batch_op.create_index(
            "ix_outbox_pending_destination",
            ["platform", "chat_id", "id"],
            unique=False,
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        )
