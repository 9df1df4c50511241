"""Per-rule mutes: one rule silenced for one destination until a time.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copy of the column type in bot.store.tables at this revision.
TIME = sa.DateTime(timezone=True)

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_mutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("muted_until", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_mutes")),
        sa.UniqueConstraint(
            "platform", "chat_id", "rule", name=op.f("uq_rule_mutes_platform_chat_id_rule")
        ),
    )


def downgrade() -> None:
    op.drop_table("rule_mutes")
