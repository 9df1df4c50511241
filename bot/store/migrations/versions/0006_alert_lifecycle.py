"""The alert lifecycle: follow-ups, holds (mute, quiet hours), digests, urgency.

- outbox: alert rows may be `held` until `release_at` (`hold` says why) and then
  `digested` into a digest row (`kind` digest, no story, its alerts in `digest`,
  `parts_sent` so far); a sent alert collects later outlets in `sources` and
  asks for a follow-up edit with `edit_due_at` (`edited_sources` already shown,
  `edit_attempts`, `edited_at`); `urgent`; `outcome`, the button answer that
  replaced its buttons. `story_key` and `alert` become nullable (digest rows).
- stories: `cluster_key`, the first story of the near-duplicate cluster.
- subscriptions: `digest` (schedule), `mute_discards`, `quiet_hours`.
- rules: `urgent`.

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types in bot.store.tables at this revision.
TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUS = "status IN ('pending', 'sent', 'dead')"
_NEW_STATUS = "status IN ('pending', 'sent', 'dead', 'held', 'digested')"


def _outbox_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("kind", sa.Text(), nullable=False, server_default="alert"),
        sa.Column("digest", sa.JSON(), nullable=True),
        sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("release_at", TIME, nullable=True),
        sa.Column("hold", sa.Text(), nullable=True),
        sa.Column("digest_id", BIG_ID, nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False, server_default="[]"),
        sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("edit_due_at", TIME, nullable=True),
        sa.Column("edited_sources", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("edit_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("edited_at", TIME, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        for column in _outbox_columns():
            batch_op.add_column(column)
        batch_op.alter_column("story_key", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("alert", existing_type=sa.JSON(), nullable=True)
        batch_op.drop_constraint(batch_op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_status"), _NEW_STATUS)
        batch_op.create_check_constraint(
            batch_op.f("ck_outbox_kind"), "kind IN ('alert', 'digest')"
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_status_release_at"), ["status", "release_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_edit_due_at"), ["edit_due_at"], unique=False)
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster_key", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_stories_cluster_key"), ["cluster_key"], unique=False)
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("mute_discards", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("quiet_hours", sa.Text(), nullable=True))
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_column("urgent")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("quiet_hours")
        batch_op.drop_column("mute_discards")
        batch_op.drop_column("digest")
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stories_cluster_key"))
        batch_op.drop_column("cluster_key")
    op.execute("DELETE FROM outbox WHERE kind = 'digest' OR status IN ('held', 'digested')")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_edit_due_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_status_release_at"))
        batch_op.drop_constraint(batch_op.f("ck_outbox_kind"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_status"), _OLD_STATUS)
        batch_op.alter_column("alert", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("story_key", existing_type=sa.Text(), nullable=False)
        for column in reversed(_outbox_columns()):
            batch_op.drop_column(column.name)
