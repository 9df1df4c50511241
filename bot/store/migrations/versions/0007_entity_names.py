"""Names admins add to the entity classes of the rule language (`entity add`).

The classes themselves (@country, @us, @org, …) come from config/entities.yaml
and pycountry; this table holds only the additions, each audited in `changes`.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copy of the column type in bot.store.tables at this revision.
TIME = sa.DateTime(timezone=True)

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "entity_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_class", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Text(), nullable=False),
        sa.Column("added_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_names")),
        sa.UniqueConstraint("entity_class", "name", name=op.f("uq_entity_names_entity_class_name")),
    )


def downgrade() -> None:
    op.drop_table("entity_names")
