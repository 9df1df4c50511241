"""The database schema as SQLAlchemy Core tables.

These tables describe the schema the Alembic migrations build; they are never
used to create it (`tests/test_migrations.py` asserts the two agree). Rows stay
inside `bot.store`: the query modules turn them into `bot.core.model` dataclasses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so values are
    stored as naive UTC text (which sorts and compares correctly) and given
    back their UTC zone on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}: pass timezone-aware UTC times")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY, so big ids are plain INTEGER there
# (which is 64-bit in SQLite anyway).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class OutboxStatus(StrEnum):
    """The life of an outbox row: pending until sent, or dead when given up; an alert
    that has to wait is held until its release, then digested into a digest row."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    HELD = "held"
    DIGESTED = "digested"


class OutboxKind(StrEnum):
    """What an outbox row posts: one alert, or a digest of held alerts."""

    ALERT = "alert"
    DIGEST = "digest"


feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("backfill", sa.Integer, nullable=False),
    sa.Column("check_interval", sa.Float),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("interval_seconds", sa.Float),
    sa.Column("next_poll_at", UtcDateTime),
    sa.Column("last_fetch_at", UtcDateTime),
    sa.Column("last_success_at", UtcDateTime),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("error_count", sa.Integer, nullable=False),
    sa.Column("primed", sa.Boolean, nullable=False),
    sa.Column("item_times", sa.JSON, nullable=False),
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "enabled", "next_poll_at"),
)

stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    sa.Column("guid", sa.Text),
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="SET NULL")),
    sa.Column("canonical_url", sa.Text, unique=True),
    sa.Column("title_key", sa.Text, nullable=False),
    sa.Column("publisher", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.BigInteger, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("published", UtcDateTime, nullable=False),
    sa.Column("fetched_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime),
    sa.Column("cluster_key", sa.Text),
    sa.UniqueConstraint("feed_id", "guid"),
    sa.Index(None, "guid"),
    sa.Index(None, "publisher", "title_key", "published"),
    sa.Index(None, "published"),
    sa.Index(None, "fetched_at"),
    sa.Index(None, "last_seen_at"),
    sa.Index(None, "cluster_key"),
)
"""`cluster_key`: the key of the first story of its near-duplicate cluster (NULL for
that first story itself), so later outlets are counted and named on its alert."""

rules = sa.Table(
    "rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("topic", sa.JSON),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
)

changes = sa.Table(
    "changes",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
    sa.Index(None, "kind", "name", "at"),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("chat_id", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("muted_until", UtcDateTime),
    sa.Column("paused_reason", sa.Text),
    sa.Column("created_by", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("digest", sa.Text),
    sa.Column("mute_discards", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("quiet_hours", sa.Text),
    sa.UniqueConstraint("platform", "chat_id", "rule"),
    sa.Index(None, "rule"),
)
"""`digest` is the subscription's schedule; `muted_until`, `mute_discards`,
`paused_reason` and `quiet_hours` belong to the destination and are kept on
each of its rows."""

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("story_key", sa.Text, sa.ForeignKey("stories.key", ondelete="CASCADE")),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("chat_id", sa.Text, nullable=False),
    sa.Column("alert", sa.JSON),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("dead_at", UtcDateTime),
    sa.Column("message_id", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.Text, nullable=False, server_default="alert"),
    sa.Column("digest", sa.JSON),
    sa.Column("parts_sent", sa.Integer, nullable=False, server_default="0"),
    sa.Column("release_at", UtcDateTime),
    sa.Column("hold", sa.Text),
    sa.Column("digest_id", BigId),
    sa.Column("sources", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("edit_due_at", UtcDateTime),
    sa.Column("edited_sources", sa.Integer, nullable=False, server_default="0"),
    sa.Column("edit_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("edited_at", UtcDateTime),
    sa.Column("outcome", sa.Text),
    sa.CheckConstraint("status IN ('pending', 'sent', 'dead', 'held', 'digested')", name="status"),
    sa.CheckConstraint("kind IN ('alert', 'digest')", name="kind"),
    sa.UniqueConstraint("story_key", "platform", "chat_id"),
    # The claim query: each destination's oldest pending row (a covering index scan).
    sa.Index(None, "status", "platform", "chat_id", "id"),
    sa.Index(None, "status", "dead_at"),
    sa.Index(None, "status", "sent_at"),
    sa.Index(None, "status", "release_at"),
    sa.Index(None, "edit_due_at"),
)
"""One message for one destination. An alert row (`story_key`, `alert`) is pending,
held until `release_at` (`hold` says why) and then digested into the digest row
`digest_id`, sent, or dead. Once sent, later outlets go into `sources` and
`edit_due_at` asks for a follow-up edit (`edited_sources` are shown already);
`outcome` is the button answer that replaced its buttons. A digest row
(`kind` digest, no story) carries its alerts in `digest` and counts the parts
posted in `parts_sent`."""

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

rule_mutes = sa.Table(
    "rule_mutes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("chat_id", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("muted_until", UtcDateTime, nullable=False),
    sa.UniqueConstraint("platform", "chat_id", "rule"),
)
"""One rule muted for one destination (the "Mute rule 24 h" button); the
destination-wide mute stays on the subscription rows."""

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)
"""Named leases (`acquire_lease`): who runs a job only one instance may run, and until when."""


feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("story_key", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("proposal", sa.JSON),
    sa.Column("decided_by", sa.Text),
    sa.Column("decided_at", UtcDateTime),
    sa.Index(None, "rule", "at"),
)
"""Every "Not relevant" / "More like this" click (`rule feedback`), with what came of it.
Title and URL are copied so the list outlives the story's retention."""

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("chat_id", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.CheckConstraint("status IN ('pending', 'sent', 'dead')", name="status"),
    sa.Index(None, "status", "next_attempt_at"),
)
"""Plain notices to the admins (feed health), queued like alerts: durable, retried."""

feed_alarms = sa.Table(
    "feed_alarms",
    metadata,
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="CASCADE")),
    sa.Column("kind", sa.Text),
    sa.Column("raised_at", UtcDateTime, nullable=False),
    sa.PrimaryKeyConstraint("feed_id", "kind"),
)
"""A feed-health condition (`failing`, `quiet`) the admins were told about; the row
goes when they are told it recovered, so each is announced once per episode."""
entity_names = sa.Table(
    "entity_names",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("entity_class", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("entity", sa.Text, nullable=False),
    sa.Column("added_by", sa.Text, nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("entity_class", "name"),
)
"""Names admins added to the rule language's entity classes (`entity add`), on top of
config/entities.yaml; every addition and removal is also in `changes`."""

websub_subscriptions = sa.Table(
    "websub_subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("callback_id", sa.Text, nullable=False, unique=True),
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="SET NULL"), unique=True),
    sa.Column("hub_url", sa.Text, nullable=False),
    sa.Column("topic_url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("lease_seconds", sa.Integer),
    sa.Column("lease_expires_at", UtcDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("retry_at", UtcDateTime),
    sa.CheckConstraint(
        "state IN ('subscribing', 'active', 'unsubscribing', 'failed')", name="state"
    ),
)
"""One WebSub subscription per feed (`bot.pipeline.subscribe`). Removing the feed sets
`feed_id` to NULL and keeps the row, so the renewal job unsubscribes from the hub
and then deletes it; a push for such a row is answered and ignored."""
