"""WebSub subscriptions: one row per feed subscribed to its hub.

The row outlives its feed (`feed_id` is set to NULL when the feed is removed)
until the hub is told to stop sending.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copies of the column types in bot.store.tables at this revision.
TIME = sa.DateTime(timezone=True)

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "websub_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("callback_id", sa.Text(), nullable=False),
        sa.Column("feed_id", sa.Integer()),
        sa.Column("hub_url", sa.Text(), nullable=False),
        sa.Column("topic_url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("requested_at", TIME, nullable=False),
        sa.Column("lease_seconds", sa.Integer()),
        sa.Column("lease_expires_at", TIME),
        sa.Column("last_error", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", TIME),
        sa.CheckConstraint(
            "state IN ('subscribing', 'active', 'unsubscribing', 'failed')",
            name=op.f("ck_websub_subscriptions_state"),
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feeds.id"],
            name=op.f("fk_websub_subscriptions_feed_id_feeds"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_subscriptions")),
        sa.UniqueConstraint("callback_id", name=op.f("uq_websub_subscriptions_callback_id")),
        sa.UniqueConstraint("feed_id", name=op.f("uq_websub_subscriptions_feed_id")),
    )


def downgrade() -> None:
    op.drop_table("websub_subscriptions")
