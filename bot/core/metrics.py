"""Prometheus metrics (prometheus-client), served at `/metrics` by the service.

Every metric lives in this one module, on one `REGISTRY` (not the library's
global default, so tests and several apps in one process never collide on
names), and every stage records into it through the objects below. Names
follow Prometheus conventions: `newswatch_` prefix, `_total` counters,
`_seconds` histograms, labels of bounded cardinality only (outcomes, platforms,
never a feed URL or a chat id).

The current gauges (feeds, failing feeds, outbox length, rules, invalid
rules) are read from the store and the rule book each time `/metrics` is
scraped (`bot.service.http` calls `set_current`), so they are never stale and
are right on every instance sharing one database. The process collector adds
CPU, memory, open files and start time (`process_*`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

_FAST = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

FETCHES = Counter(
    "newswatch_fetches",
    "Feed fetches by outcome: fetched, not_modified, failed.",
    ["outcome"],
    registry=REGISTRY,
)
STORIES = Counter(
    "newswatch_stories",
    "New stories stored (after dedupe), alerting or not.",
    registry=REGISTRY,
)
ALERTS = Counter(
    "newswatch_alerts",
    "Stories that matched at least one rule and were queued as alerts.",
    registry=REGISTRY,
)
FULLTEXT = Counter(
    "newswatch_fulltext",
    "Article pages fetched for teaser-only items (NEWSWATCH_FULLTEXT), by outcome:"
    " extracted, empty, failed.",
    ["outcome"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "newswatch_deliveries",
    "Outbox sends by platform and outcome: sent, retry, rate_limited, gone (chat paused),"
    " failed (dead-lettered), no_notifier (platform not configured).",
    ["platform", "outcome"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "newswatch_rate_limited",
    "429 / retry_after answers from a chat platform.",
    ["platform"],
    registry=REGISTRY,
)
FETCH_SECONDS = Histogram(
    "newswatch_fetch_seconds",
    "Time to fetch one feed (request to last byte).",
    buckets=_SLOW,
    registry=REGISTRY,
)
LOOP_LAG_SECONDS = Histogram(
    "newswatch_event_loop_lag_seconds",
    "How late the event loop woke a 0.1 s sleep (a step that held the loop).",
    buckets=_FAST,
    registry=REGISTRY,
)
POLL_SECONDS = Histogram(
    "newswatch_poll_seconds",
    "Time of one poll pass over the due feeds.",
    buckets=_SLOW,
    registry=REGISTRY,
)
MATCH_SECONDS = Histogram(
    "newswatch_match_seconds",
    "Time to match one story against every rule (query index and topics).",
    buckets=_FAST,
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "newswatch_delivery_seconds",
    "Time of one send to a chat platform (one attempt).",
    buckets=(*_FAST, 10.0, 30.0),
    registry=REGISTRY,
)
_LATENCY = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0, 600.0, 1800.0)
ALERT_LATENCY_SECONDS = Histogram(
    "newswatch_alert_latency_seconds",
    "From a story's first sighting (since=first_seen: fetched or pushed) or its"
    " publication time (since=published) to its alert being sent.",
    ["since"],
    buckets=(*_LATENCY, 3600.0, 6 * 3600.0, 86400.0),
    registry=REGISTRY,
)
NOTICES = Counter(
    "newswatch_notices",
    "Admin notices (feed health) by platform and outcome: sent, retry, dead.",
    ["platform", "outcome"],
    registry=REGISTRY,
)
PRUNED = Counter(
    "newswatch_pruned",
    "Rows deleted by retention, by kind: stories, outbox, notices.",
    ["kind"],
    registry=REGISTRY,
)
FOLLOW_UPS = Counter(
    "newswatch_follow_ups",
    "Follow-up edits of posted alerts (later outlets, urgency) by platform and outcome: "
    "edited, retried, given_up.",
    ["platform", "outcome"],
    registry=REGISTRY,
)
HELD = Counter(
    "newswatch_held_alerts",
    "Alerts queued to wait instead of going out at once, by reason: mute, quiet, digest.",
    ["reason"],
    registry=REGISTRY,
)
DIGESTS = Counter(
    "newswatch_digests",
    "Digests of held alerts queued for a chat by the release job.",
    registry=REGISTRY,
)

FEEDS = Gauge("newswatch_feeds", "Feeds in the database.", registry=REGISTRY)
FEEDS_FAILING = Gauge(
    "newswatch_feeds_failing",
    "Feeds whose last 3 or more fetches failed.",
    registry=REGISTRY,
)
OUTBOX_PENDING = Gauge(
    "newswatch_outbox_pending",
    "Alert messages waiting to be delivered (the outbox).",
    registry=REGISTRY,
)
RULES = Gauge("newswatch_rules", "Watch rules loaded (file and chat edits).", registry=REGISTRY)
RULES_INVALID = Gauge(
    "newswatch_rules_invalid",
    "Watch rules that failed to compile and are skipped.",
    registry=REGISTRY,
)

PUSHES = Counter(
    "newswatch_websub_pushes",
    "WebSub content distributions by outcome: accepted, bad_signature, unparsable,"
    " too_large, unknown (callback id).",
    ["outcome"],
    registry=REGISTRY,
)


def set_current(*, feeds: int, failing: int, outbox: int, rules: int, invalid_rules: int) -> None:
    """Set the current-state gauges (called when /metrics is scraped)."""
    FEEDS.set(feeds)
    FEEDS_FAILING.set(failing)
    OUTBOX_PENDING.set(outbox)
    RULES.set(rules)
    RULES_INVALID.set(invalid_rules)
