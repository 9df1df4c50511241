"""The store protocol: everything newswatch persists, behind one interface.

Implemented by `bot.store.sql.SqlStore` on SQLite (embedded default) and
PostgreSQL (scale-out). The same contract test suite runs against both.
Only dataclasses from `bot.core.model` cross this boundary; ORM rows never leave
the store. Times are timezone-aware UTC datetimes.

Claims (`claim_due_feeds`, `claim_outbox`) are safe with several instances on
one PostgreSQL database: a claimed row is leased to `owner` until
`now + lease_seconds`, and no other caller gets it before that lease expires
(`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; one writer on SQLite).
A named lease (`acquire_lease`) goes the same way to one owner at a time: the
job only one instance may run, such as the Telegram long poll.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.model import (
    Alert,
    Change,
    Delivery,
    Destination,
    DueFeed,
    EntityEntry,
    Feed,
    Feedback,
    FeedState,
    Hold,
    Notice,
    OutboxItem,
    PruneReport,
    PushSubscription,
    Recipient,
    Rule,
    Story,
    Subscription,
)


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """A feed with its state, for `feeds list` and `status`."""

    feed: Feed
    state: FeedState


@dataclass(frozen=True, slots=True)
class NewStory:
    """A story to record, with the alert and the destinations it goes to."""

    story: Story
    alert: Alert | None
    """None when the story matched no rule (it is still recorded as seen)."""
    destinations: tuple[Destination, ...] = ()
    """Where the alert goes at once."""
    held: tuple[Delivery, ...] = ()
    """Where it waits (muted, quiet hours, a digest subscription) until a release time."""
    cluster_key: str | None = None
    """For a near-duplicate: the first story of its cluster. Its alert rows name this
    story's publisher as another source (a follow-up edit once sent)."""
    urgent_cluster: bool = False
    """This near-duplicate makes its cluster urgent: the cluster's alerts are marked,
    and those waiting for quiet hours or a digest go out at once."""


@dataclass(frozen=True, slots=True)
class ClusterReports:
    """The stored stories of one near-duplicate cluster, for urgency."""

    root: str
    """The key of the cluster's first story."""
    reports: tuple[tuple[str, datetime], ...]
    """(publisher, published) of each of its stories."""


@dataclass(frozen=True, slots=True)
class HeldGroup:
    """One destination's held alerts whose release time has come."""

    destination: Destination
    ids: tuple[int, ...]
    quiet_hours: str | None
    """The destination's quiet hours now (the release waits while they hold)."""


@dataclass(frozen=True, slots=True)
class HeldSummary:
    """What waits for one destination, for `subscriptions`."""

    hold: Hold
    count: int
    release_at: datetime


@dataclass(frozen=True, slots=True)
class SavedStories:
    """What `save_stories` actually wrote (others were already known)."""

    stored_keys: tuple[str, ...]
    outbox_rows: int


@dataclass(frozen=True, slots=True)
class NearDuplicateRow:
    """What the near-duplicate index reads of a stored story: no content, no URLs.

    The summary is read only to take its lead sentence; the index keeps salient
    terms, not text.
    """

    id: int
    key: str
    title: str
    summary: str
    published: datetime
    fetched_at: datetime
    fingerprint: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An outbox row that gave up, for `status`."""

    id: int
    destination: Destination
    story_title: str
    error: str
    at: datetime


class Store(Protocol):
    """Persistence for feeds, stories, rules, subscriptions, outbox and audit."""

    async def close(self) -> None: ...

    # ── feeds ──
    async def add_feeds(
        self,
        specs: Sequence[tuple[str, str, int]],
        *,
        intervals: Mapping[str, float] | None = None,
    ) -> tuple[list[Feed], list[str]]:
        """Add (url, name, backfill) feeds in one transaction, all or none, some with
        their own interval (`intervals` by URL); returns (the added feeds, the skipped
        URLs: already known or repeated)."""
        ...

    async def add_feed(
        self, url: str, name: str, *, backfill: int = 0, interval: float | None = None
    ) -> Feed:
        """Add a feed (due immediately), optionally with its own interval (seconds).
        Raises DuplicateError for a known URL, StoreError for an interval out of range."""
        ...

    async def set_feed_interval(self, url_or_name: str, interval: float | None) -> Feed:
        """Give a feed (by URL, name or id) its own interval, or None for the default;
        it is checked at once, then on the new interval. Raises NotFoundError."""
        ...

    async def remove_feed(self, url_or_name: str) -> Feed:
        """Remove a feed by URL, name or id. Raises NotFoundError."""
        ...

    async def list_feeds(self) -> list[FeedHealth]: ...

    async def claim_due_feeds(
        self, now: datetime, *, limit: int, owner: str, lease_seconds: float
    ) -> list[DueFeed]:
        """Feeds whose next_poll_at <= now (or never polled), leased to `owner`."""
        ...

    async def next_check_at(self, now: datetime) -> datetime | None:
        """When the next enabled feed not leased at `now` falls due (`now` if one is
        overdue or never checked); None when there is none."""
        ...

    async def save_feed_state(self, feed_id: int, state: FeedState) -> None:
        """Store the state after a poll and release the lease."""
        ...

    async def save_feed_states(self, states: Mapping[int, FeedState]) -> None:
        """`save_feed_state` for many feeds in one transaction (feeds removed
        meanwhile are skipped)."""
        ...

    # ── stories and dedup ──
    async def known_story_keys(
        self,
        stories: Sequence[Story],
        *,
        title_window_hours: float = 48,
        seen_at: datetime | None = None,
    ) -> set[str]:
        """Keys of `stories` already seen: same key, same GUID, same canonical URL,
        or same title_key from the same publisher within the window.

        With `seen_at`, the stored stories they are (by key, GUID or canonical URL)
        count as listed by their feed at that time (refreshed at most daily), which
        keeps them from retention's `prune`."""
        ...

    async def save_stories(self, items: Sequence[NewStory]) -> SavedStories:
        """Record stories and their outbox rows in one transaction.

        A story that another writer stored in the meantime (same key, GUID or
        canonical URL) is skipped together with its outbox rows, so no alert is
        ever queued twice.
        """
        ...

    async def recent_stories(self, since: datetime, *, limit: int = 5000) -> list[Story]:
        """Stories published or fetched since `since`, newest first (for `rule test`)."""
        ...

    async def near_duplicate_candidates(
        self,
        since: datetime,
        *,
        after_id: int = 0,
        also_ids: Collection[int] = (),
        limit: int = 1000,
    ) -> list[NearDuplicateRow]:
        """One page of the stories published or fetched since `since` whose id is
        above `after_id` or in `also_ids`, in id order, at most `limit`.

        Ids only grow, so the near-duplicate index pages through the window and
        later asks only for what was stored since (by any instance); `also_ids`
        re-asks for ids it skipped that a slower transaction may still commit.
        """
        ...

    async def story_clusters(self, keys: Collection[str]) -> dict[str, ClusterReports]:
        """For each stored story among `keys`: its near-duplicate cluster (the first
        story's key and every report in it). Unknown keys are absent."""
        ...

    async def find_near_duplicate(
        self, story: Story, *, since: datetime, max_distance: int
    ) -> Story | None:
        """An earlier story within `since` whose fingerprint is within
        `max_distance` bits of `story`'s, if any."""
        ...

    # ── rules (database overlay over the YAML file) ──
    async def list_rules(self) -> list[Rule]:
        """Rules edited by admins (the YAML rules are not stored unless edited)."""
        ...

    async def deleted_rule_names(self) -> set[str]:
        """YAML rules an admin removed."""
        ...

    async def save_rule(self, rule: Rule, *, actor: str, at: datetime) -> None:
        """Insert or replace a rule, recording the change with before and after."""
        ...

    async def delete_rule(self, name: str, *, actor: str, at: datetime) -> None: ...

    async def history(self, kind: str, name: str, *, limit: int = 20) -> list[Change]:
        """Audited changes, newest first."""
        ...

    async def record_change(self, change: Change) -> None: ...

    # ── entity classes (admins' additions over config/entities.yaml) ──
    async def list_entity_names(self) -> list[EntityEntry]:
        """Names admins added to entity classes, by class, oldest first."""
        ...

    async def add_entity_name(self, entry: EntityEntry, *, actor: str, at: datetime) -> None:
        """Add a name to a class, audited (kind `entity`); DuplicateError if present."""
        ...

    async def remove_entity_name(
        self, entity_class: str, name: str, *, actor: str, at: datetime
    ) -> EntityEntry:
        """Remove an added name, audited; NotFoundError if no admin added it."""
        ...

    # ── subscriptions ──
    async def subscribe(
        self,
        destination: Destination,
        rules: Sequence[str],
        *,
        actor: str,
        digest: str | None = None,
    ) -> list[str]:
        """Subscribe to rules (or ALL_RULES) as they come (`digest` None) or on a digest
        schedule; rules already subscribed take the new schedule. Returns the names
        newly added."""
        ...

    async def unsubscribe(self, destination: Destination, rules: Sequence[str]) -> list[str]:
        """Remove subscriptions; ALL_RULES in `rules` removes every one. Returns removed.
        A destination left with no subscription drops its held alerts."""
        ...

    async def subscriptions(self, destination: Destination | None = None) -> list[Subscription]: ...

    async def destinations_for(self, rules: Sequence[str], now: datetime) -> list[Destination]:
        """Active destinations subscribed to any of `rules` (or to ALL_RULES):
        not paused, not muted at `now`; each destination once."""
        ...

    async def mute(
        self, destination: Destination, until: datetime | None, *, discard: bool = False
    ) -> None:
        """Mute the destination until `until` (None unmutes, releasing at once what the
        mute held). Alerts routed meanwhile are held for a digest at `until` unless
        `discard`; alerts already held by a mute move to the new end."""
        ...

    async def recipients_for(self, rules: Sequence[str], now: datetime) -> list[Recipient]:
        """Each unpaused destination subscribed to any of `rules` (or to ALL_RULES),
        once, with its subscriptions to them, mute, rule mutes and quiet hours."""
        ...

    async def set_quiet_hours(self, destination: Destination, quiet: str | None) -> None:
        """Set (a `QuietHours` text) or clear the destination's quiet hours; alerts held
        by quiet hours are released for the new setting to judge."""
        ...

    async def pause_destination(self, destination: Destination, reason: str | None) -> None:
        """Pause (reason given) or resume (None) every subscription of a destination."""
        ...

    async def migrate_destination(self, old: Destination, new: Destination) -> None:
        """Move subscriptions and pending outbox rows to a new chat id."""
        ...

    # ── outbox ──
    async def claim_outbox(
        self,
        now: datetime,
        *,
        limit: int,
        owner: str,
        lease_seconds: float,
        edit_gap_seconds: float = 0.0,
    ) -> list[OutboxItem]:
        """Due, unsent rows (alerts and digests), oldest first, at most one per
        destination (its oldest unsent row), so order is kept per chat; then sent
        alerts with a follow-up edit due, each at least `edit_gap_seconds` after its
        last edit. Up to `limit` of each."""
        ...

    async def mark_sent(
        self, item_id: int, *, message_id: str | None, at: datetime, shown_sources: int = 0
    ) -> None:
        """Record a posted row (a message id of None keeps the one recorded) showing its
        first `shown_sources` sources; a follow-up edit is due if more arrived meanwhile."""
        ...

    async def mark_edited(self, item_id: int, *, shown_sources: int, at: datetime) -> None:
        """A follow-up edit went out showing the first `shown_sources` sources; another
        is due if more arrived meanwhile. Releases the lease."""
        ...

    async def mark_edit_failed(
        self, item_id: int, *, error: str, retry_at: datetime | None, at: datetime
    ) -> None:
        """A follow-up edit failed: try again at `retry_at`, or (None) give up editing
        this message. The alert stays sent. Releases the lease."""
        ...

    async def mark_digest_part(
        self, item_id: int, *, parts_sent: int, message_id: str, at: datetime
    ) -> None:
        """Record that a digest's first `parts_sent` parts are posted (the lease stays)."""
        ...

    async def record_outcome(self, destination: Destination, message_id: str, outcome: str) -> None:
        """A button's answer replaced the buttons of this posted alert: later follow-up
        edits keep showing it instead of the buttons. Unknown messages are ignored."""
        ...

    # ── held alerts and digests ──
    async def due_holds(self, now: datetime, *, limit: int = 1000) -> list[HeldGroup]:
        """Held alerts released by `now`, grouped per destination, oldest first."""
        ...

    async def release_holds(
        self, destination: Destination, ids: Sequence[int], at: datetime
    ) -> int:
        """Turn those of `ids` still held into one pending digest row for the destination,
        in one transaction; returns 1 if a digest was queued, 0 if another instance
        (or an earlier call) took them."""
        ...

    async def postpone_holds(self, ids: Sequence[int], until: datetime, hold: Hold) -> None:
        """Hold those of `ids` still held until `until` instead, for `hold`."""
        ...

    async def held_summary(self, destination: Destination) -> list[HeldSummary]:
        """What waits for the destination, per reason, with the next release."""
        ...

    async def mark_retry(
        self, item_id: int, *, error: str, next_attempt_at: datetime, at: datetime
    ) -> None:
        """Record a failed attempt and when to try again; releases the lease."""
        ...

    async def mark_dead(self, item_id: int, *, error: str, at: datetime) -> None:
        """Give up on a row; it shows in `dead_letters`."""
        ...

    async def outbox_pending(self) -> int: ...

    async def alert_latencies(
        self, since: datetime, *, limit: int = 100_000
    ) -> list[tuple[float, float]]:
        """(first seen → sent, published → sent) seconds of alerts sent at once since `since`."""
        ...

    async def dead_letters(self, *, limit: int = 10) -> list[DeadLetter]: ...

    async def sent_message_id(self, story_key: str, destination: Destination) -> str | None:
        """The platform message id of an alert already posted for this story."""
        ...

    # ── small key/value state (last poll time, etc.) ──
    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    # ── per-rule mutes and story lookup (chat buttons; added after the first release) ──
    async def mute_rule(self, destination: Destination, rule: str, until: datetime | None) -> None:
        """Mute one rule's alerts for a destination until `until` (None unmutes it).

        `destinations_for` then leaves the destination out of an alert only when
        every rule the alert matched is muted for it (a subscription to
        ALL_RULES counts as following each of them), so other rules still arrive.
        """
        ...

    async def muted_rules(self, destination: Destination, now: datetime) -> dict[str, datetime]:
        """The destination's per-rule mutes still in force at `now`: rule → until."""
        ...

    async def get_story(self, key: str) -> Story | None:
        """A recorded story by key (None if unknown), e.g. for "Not relevant" feedback."""
        ...

    async def find_story_by_key_prefix(self, prefix: str) -> Story | None:
        """The one recorded story whose key starts with `prefix`, however old (an index
        range scan); None when none or several do. Telegram's "Not relevant" button
        carries only the start of the key."""
        ...

    # ── named leases (a job only one instance may run, e.g. the Telegram long poll) ──
    async def acquire_lease(self, name: str, owner: str, now: datetime, seconds: float) -> bool:
        """Atomically take the lease `name` for `owner` until `now + seconds` if it is
        free, expired or already `owner`'s (then it is extended). False if another
        owner holds it: exactly one of many concurrent callers gets a free lease."""
        ...

    async def release_lease(self, name: str, owner: str) -> bool:
        """Give up the lease if `owner` holds it (True); otherwise change nothing (False)."""
        ...

    # ── feedback clicks (`rule feedback`; added with issue 9) ──
    async def record_feedback(self, item: Feedback) -> int:
        """Store one "Not relevant" / "More like this" click; returns its id."""
        ...

    async def get_feedback(self, feedback_id: int) -> Feedback | None: ...

    async def feedback_for(self, rule: str, *, limit: int = 20) -> list[Feedback]:
        """The rule's clicks, newest first."""
        ...

    async def feedback_counts(self, rule: str) -> dict[tuple[str, str], int]:
        """(kind, outcome) → number of the rule's clicks."""
        ...

    async def decide_feedback(
        self, feedback_id: int, *, outcome: str, actor: str, at: datetime
    ) -> bool:
        """Settle a `proposed` click as `applied` or `skipped`; False (changing
        nothing) when it is not pending any more: exactly one decision wins."""
        ...

    # ── admin notices and feed alarms ──
    async def feed_alarms(self) -> set[tuple[int, str]]:
        """(feed id, kind) of the feed-health alarms raised and not yet cleared."""
        ...

    async def set_feed_alarm(
        self,
        feed_id: int,
        kind: str,
        *,
        raised: bool,
        at: datetime,
        notices_to: Sequence[tuple[Destination, str]],
    ) -> bool:
        """Raise or clear an alarm and queue its notices in one transaction; False,
        queueing nothing, when it already was in that state (or the feed is gone)."""
        ...

    async def queue_notices(
        self, notices_to: Sequence[tuple[Destination, str]], at: datetime
    ) -> None: ...

    async def claim_notices(
        self, now: datetime, *, limit: int, owner: str, lease_seconds: float
    ) -> list[Notice]:
        """Due pending notices, oldest first, leased to `owner` (as `claim_outbox`)."""
        ...

    async def mark_notice_sent(self, notice_id: int, *, at: datetime) -> None: ...

    async def mark_notice_retry(
        self, notice_id: int, *, error: str, next_attempt_at: datetime
    ) -> None: ...

    async def mark_notice_dead(self, notice_id: int, *, error: str) -> None: ...

    # ── retention ──
    async def prune(self, *, stories_before: datetime, sent_before: datetime) -> PruneReport:
        """Delete outbox rows and notices settled before `sent_before`, and stories
        neither fetched nor listed by a feed since `stories_before` that no outbox
        row needs (see `bot.store.retention`)."""
        ...

    # WebSub subscriptions (bot.store.websub; the state machine is bot.pipeline.subscribe)
    async def add_push_subscription(self, sub: PushSubscription) -> bool:
        """Record a new subscription; False when its feed already has one or is gone."""
        ...

    async def update_push_subscription(self, sub: PushSubscription) -> bool:
        """Save a subscription's state by callback id; False if the row is gone."""
        ...

    async def delete_push_subscription(self, callback_id: str) -> bool: ...

    async def push_subscription(self, callback_id: str) -> PushSubscription | None:
        """The subscription of a callback id, with its feed (None once removed)."""
        ...

    async def feed_push_subscription(self, feed_id: int) -> PushSubscription | None: ...

    async def push_subscriptions(self) -> list[PushSubscription]:
        """Every subscription, removed feeds' included (their `feed` is None)."""
        ...
