"""The plain frozen dataclasses that pass between pipeline stages.

feeds ─fetch→ FeedResponse ─parse→ ParsedFeed(Entry*) ─normalize→ Story
      ─dedupe→ new Story ─match→ Match ─summarize→ Alert ─route→ OutboxItem
      ─deliver→ posted message id

No ORM row and no platform object ever crosses a stage boundary: every stage
takes and returns these types only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Platform(StrEnum):
    """Where an alert can be delivered."""

    CONSOLE = "console"
    TELEGRAM = "telegram"
    SLACK = "slack"


# ── feeds ──────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Feed:
    """A subscribed news feed."""

    id: int
    url: str
    name: str
    enabled: bool = True
    backfill: int = 0
    """How many backlog items to alert on the feed's first successful poll."""
    interval: float | None = None
    """The longest this feed goes unchecked, in seconds; None: NEWSWATCH_POLL_INTERVAL."""


FEED_INTERVAL_RANGE = (10.0, 86_400.0)
"""The shortest and longest interval a feed may be given (seconds)."""


def check_feed_interval(seconds: float) -> float:
    """`seconds` if it is a valid per-feed interval; ValueError naming the range otherwise."""
    low, high = FEED_INTERVAL_RANGE
    if not low <= seconds <= high:
        raise ValueError(f"a feed's interval must be {low:g} to {high:g} seconds, got {seconds:g}")
    return float(seconds)


@dataclass(frozen=True, slots=True)
class FeedState:
    """What we remember about a feed between polls (health and caching)."""

    etag: str | None = None
    last_modified: str | None = None
    interval_seconds: float | None = None
    """The interval the last check was planned with (the longest the feed goes unchecked)."""
    next_poll_at: datetime | None = None
    last_fetch_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    error_count: int = 0
    """Consecutive failures; reset to 0 by a successful fetch (200 or 304)."""
    primed: bool = False
    """True once the feed was fetched successfully; until then its backlog is not alerted."""
    item_times: tuple[datetime, ...] = ()
    """Publication times of the latest items, used to estimate the posting rate."""


@dataclass(frozen=True, slots=True)
class DueFeed:
    """A feed claimed for polling now, with its remembered state."""

    feed: Feed
    state: FeedState
    pushed: bool = False
    """The feed has a live WebSub subscription: polling is only a safety net."""


class PushState(StrEnum):
    """Where a WebSub subscription stands (`bot.pipeline.subscribe`)."""

    SUBSCRIBING = "subscribing"
    """Asked the hub; waiting for its intent verification."""
    ACTIVE = "active"
    """Verified: the hub pushes new content until the lease ends (renewed before)."""
    UNSUBSCRIBING = "unsubscribing"
    """The feed was removed and the hub was asked to stop."""
    FAILED = "failed"
    """Refused, denied, never verified or lapsed; retried later with backoff."""


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """One WebSub subscription of a feed to its hub, as the store keeps it."""

    callback_id: str
    """The opaque last segment of the callback URL (`/websub/<callback_id>`)."""
    feed: Feed | None
    """None once the feed was removed: the row stays until the hub is unsubscribed."""
    hub: str
    topic: str
    secret: str
    state: PushState
    requested_at: datetime
    """When we last sent the hub a (un)subscribe request."""
    lease_seconds: int | None = None
    lease_expires_at: datetime | None = None
    last_error: str | None = None
    attempts: int = 0
    """Consecutive failures (backoff); reset by a verification."""
    retry_at: datetime | None = None
    """When a failed subscription is tried again."""


@dataclass(frozen=True, slots=True)
class FeedResponse:
    """The outcome of one successful HTTP fetch (200 with a body, or 304)."""

    url: str
    final_url: str
    status: int
    body: bytes
    fetched_at: datetime
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age_seconds: float | None = None
    """From `Cache-Control: max-age`, if the server sent one."""
    retry_after_seconds: float | None = None
    link: str | None = None
    """The HTTP `Link` header(s), where a feed may name its WebSub hub."""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a parsed feed, with text already reduced to clean plain text."""

    guid: str | None
    link: str | None
    title: str
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    """UTC, or None when the feed gave no usable date."""
    author: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document after parsing."""

    title: str | None
    link: str | None
    entries: tuple[Entry, ...]
    ttl_seconds: float | None = None
    """RSS `<ttl>`, converted to seconds."""


# ── stories ────────────────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Story:
    """A normalised news item, the unit that is deduplicated, matched and alerted."""

    key: str
    """Stable identity: a hash of the canonical URL (or of the GUID when there is no link)."""
    title: str
    summary: str
    content: str
    url: str
    canonical_url: str
    publisher: str
    published: datetime
    """UTC; the fetch time when the feed gave no date."""
    fetched_at: datetime
    guid: str | None = None
    feed_id: int | None = None
    title_key: str = ""
    """Normalised title (case, accents, punctuation folded) for same-publisher dedup."""
    fingerprint: int = 0
    """64-bit SimHash of the title and lead, for cross-publisher near-duplicates."""


# ── rules and matches ──────────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Topic:
    """The semantic half of a rule: what it is about, shown by examples."""

    intent: str
    positives: tuple[str, ...] = ()
    negatives: tuple[str, ...] = ()
    threshold: float = 0.5
    llm_check: bool = False
    """Ask the configured chat model (NEWSWATCH_LLM_URL) to confirm each match; fail-open."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A watch rule: a query in the rule language, optionally a topic."""

    name: str
    query: str
    description: str = ""
    enabled: bool = True
    topic: Topic | None = None
    urgent: bool = False
    """Every alert of this rule is urgent: it skips quiet hours and digests."""


@dataclass(frozen=True, slots=True)
class EntityEntry:
    """A name an admin added to an entity class of the rule language (`@country`)."""

    entity_class: str
    """The class without its `@`: `country`, `us`, `org`, …"""
    name: str
    """The name as it appears in news: `Somaliland`, `Secretary Rubio`."""
    entity: str
    """What it stands for, shown in explanations (often the name itself)."""
    added_by: str = ""
    added_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One query term or phrase that matched, and where."""

    term: str
    field: str
    text: str
    """The text that matched, as it stands in the story."""


@dataclass(frozen=True, slots=True)
class Match:
    """A story matched by a rule, with the reason."""

    rule: str
    score: float
    hits: tuple[Hit, ...] = ()
    evidence: str | None = None
    """The best evidence sentence from the story (semantic tier), if any."""
    why: str = ""
    """A one-line human explanation, e.g. `title: "drone" + summary: "strike"`."""


@dataclass(frozen=True, slots=True)
class Source:
    """Another outlet's report of an alerted story, named in the alert's follow-up."""

    publisher: str
    url: str
    title: str
    published: datetime

    @classmethod
    def of(cls, story: Story) -> Source:
        return cls(story.publisher, story.url, story.title, story.published)


@dataclass(frozen=True, slots=True)
class Alert:
    """What gets posted: the story, why it matched and a short summary."""

    story: Story
    matches: tuple[Match, ...]
    summary: str
    sources: tuple[Source, ...] = ()
    """Other outlets that reported the story since, each publisher once, oldest first."""
    urgent: bool = False
    """Reported by many outlets at once, or matched by an `urgent: true` rule."""

    @property
    def outlets(self) -> int:
        """How many distinct publishers reported the story (the alert's own included)."""
        return len({self.story.publisher, *(source.publisher for source in self.sources)})


# ── routing and delivery ───────────────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Destination:
    """A chat, channel or console where alerts go."""

    platform: str
    chat_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}"


ALL_RULES = "*"
"""The rule name a subscription uses to mean every rule."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A destination's subscription to one rule (or to ALL_RULES)."""

    destination: Destination
    rule: str
    muted_until: datetime | None = None
    paused_reason: str | None = None
    """Set when the platform said the chat is gone (blocked, kicked, not found)."""
    created_by: str | None = None
    digest: str | None = None
    """A `bot.core.schedules.DigestSchedule` (`hourly`, `daily 08:00 Europe/Kyiv`), or
    None for alerts as they come."""
    mute_discards: bool = False
    """While muted, alerts are dropped (`mute 2h discard`) instead of held for a digest."""
    quiet_hours: str | None = None
    """A `bot.core.schedules.QuietHours` (`22:00-07:00 Europe/Kyiv`) of the destination."""


class Hold(StrEnum):
    """Why an alert waits instead of going out at once."""

    MUTE = "mute"
    QUIET = "quiet"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Recipient:
    """A destination following some of an alert's rules, with all that decides when
    it gets the alert (read by `Store.recipients_for`, decided by the router)."""

    destination: Destination
    schedules: tuple[tuple[str, str | None], ...]
    """(rule or ALL_RULES, digest schedule or None) for each subscription that applies."""
    muted_until: datetime | None = None
    mute_discards: bool = False
    rule_mutes: tuple[tuple[str, datetime], ...] = ()
    """Per-rule mutes in force: (rule, until)."""
    quiet_hours: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where an alert goes and when: at once (`release_at` None) or held until a time."""

    destination: Destination
    release_at: datetime | None = None
    hold: Hold | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """Alerts that waited (a mute, quiet hours, a digest subscription), sent as one message."""

    alerts: tuple[Alert, ...]
    """In the order the stories were published, each story once."""
    holds: tuple[Hold, ...] = ()
    """Why they waited, for the heading."""


@dataclass(frozen=True, slots=True)
class DigestPart:
    """What posting one part of a digest gave back."""

    message_id: str
    parts: int
    """How many parts the digest has on this platform."""


@dataclass(frozen=True, slots=True)
class FollowUp:
    """An edit of a posted alert: more outlets reported it, or it became urgent."""

    alert: Alert
    """With every source and its urgency as they stand now."""
    new_sources: tuple[Source, ...] = ()
    """The sources the posted message does not show yet."""
    outcome: str | None = None
    """The answer of a button that replaced the alert's buttons; they stay replaced."""


class OutboxJob(StrEnum):
    """What the delivery loop does with a claimed outbox row."""

    SEND = "send"
    EDIT = "edit"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message to post or edit for one destination: an alert, its follow-up, a digest."""

    id: int
    destination: Destination
    alert: Alert | None
    """The alert to send or edit (None for a digest)."""
    attempts: int = 0
    created_at: datetime | None = None
    last_error: str | None = None
    job: OutboxJob = OutboxJob.SEND
    digest: Digest | None = None
    message_id: str | None = None
    """EDIT: the posted message."""
    new_sources: tuple[Source, ...] = ()
    """EDIT: sources the posted message does not show yet."""
    outcome: str | None = None
    """EDIT: the button answer the message shows instead of buttons."""
    parts_sent: int = 0
    """DIGEST: parts already posted (a retry goes on from there)."""


@dataclass(frozen=True, slots=True)
class Change:
    """An audited admin change to a rule, a feed or a subscription."""

    kind: str
    """`rule`, `feed`, `subscription` or `entity`."""
    name: str
    action: str
    actor: str
    at: datetime
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one pass of the poller did, for logs, the demo and tests."""

    feeds_polled: int = 0
    feeds_failed: int = 0
    not_modified: int = 0
    entries_seen: int = 0
    new_stories: int = 0
    alerts: int = 0
    outbox_rows: int = 0
    errors: tuple[str, ...] = field(default_factory=tuple)


# ── feedback, notices, retention ───────────────────────────────────────────


@dataclass(frozen=True, slots=True)
class Feedback:
    """One click on an alert's "Not relevant" or "More like this" button, and its outcome."""

    rule: str
    kind: str
    """`not_relevant` or `more_like_this`."""
    story_key: str
    title: str
    url: str
    actor: str
    at: datetime
    outcome: str
    """What came of it (`handlers.feedback.Outcome`): noted, applied, proposed, skipped, …"""
    id: int = 0
    proposal: dict[str, object] | None = None
    """The change it would make and the backtest's figures, when one was worked out."""
    decided_by: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A plain message to an admin destination (a feed-health notice), queued durably."""

    id: int
    destination: Destination
    text: str
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class PruneReport:
    """What one retention pass deleted."""

    stories: int = 0
    outbox_rows: int = 0
    notices: int = 0
