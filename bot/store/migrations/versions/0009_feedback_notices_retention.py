"""Feedback clicks, admin notices with feed alarms, and what retention needs.

- `feedback`: every "Not relevant" / "More like this" click and its outcome;
- `notices` and `feed_alarms`: feed-health notices to the admins, queued
  durably, and the conditions they announced (one notice per episode);
- `stories.last_seen_at`: when a feed last listed a stored story, so pruning
  keeps what a feed still carries;
- an index on the outbox's sent rows for pruning them.

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types in bot.store.tables at this revision.
TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("story_key", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("proposal", sa.JSON()),
        sa.Column("decided_by", sa.Text()),
        sa.Column("decided_at", TIME),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_rule_at"), "feedback", ["rule", "at"])
    op.create_table(
        "notices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("platform", sa.Text(), nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("lease_owner", sa.Text()),
        sa.Column("lease_until", TIME),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("sent_at", TIME),
        sa.CheckConstraint("status IN ('pending', 'sent', 'dead')", name=op.f("ck_notices_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    op.create_index(
        op.f("ix_notices_status_next_attempt_at"), "notices", ["status", "next_attempt_at"]
    )
    op.create_table(
        "feed_alarms",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("raised_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feeds.id"],
            name=op.f("fk_feed_alarms_feed_id_feeds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feed_id", "kind", name=op.f("pk_feed_alarms")),
    )
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("last_seen_at", TIME))
    op.create_index(op.f("ix_stories_last_seen_at"), "stories", ["last_seen_at"])
    op.create_index(op.f("ix_outbox_status_sent_at"), "outbox", ["status", "sent_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_status_sent_at"), table_name="outbox")
    op.drop_index(op.f("ix_stories_last_seen_at"), table_name="stories")
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("last_seen_at")
    op.drop_table("feed_alarms")
    op.drop_index(op.f("ix_notices_status_next_attempt_at"), table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_feedback_rule_at"), table_name="feedback")
    op.drop_table("feedback")
