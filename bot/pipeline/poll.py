"""One pass of the poller: the whole pipeline in one place.

    claim due feeds ─▶ fetch ─▶ parse ─▶ normalize        (per feed, concurrently)
    ─▶ dedupe (batch, store) ─▶ [full text for teasers] ─▶ near-duplicates
    ─▶ match ─▶ summarize ─▶ route
    ─▶ save stories + outbox rows (one transaction) ─▶ save feed states

Parsing and normalising a feed (pure functions of its bytes, the heaviest
steps on a body at the size caps) run in the loop's default thread pool, so
one large feed does not hold the event loop while other feeds, deliveries and
commands wait.

`poll_once` is what the scheduler calls on every tick, and what tests and the
demo call directly to drive the bot without a scheduler. Delivery of the
outbox rows is the separate loop in `bot.delivery.loop`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core import metrics
from bot.core.errors import FeedParseError, FetchError
from bot.core.model import (
    Alert,
    DueFeed,
    Feed,
    FeedResponse,
    FeedState,
    ParsedFeed,
    PollReport,
    Story,
)
from bot.pipeline import dedupe, fetch, match, normalize, parse, route, summarize
from bot.store.base import NewStory, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PollConfig:
    """Knobs of one poll pass (from Settings, or set by tests and the demo)."""

    interval_seconds: float
    """The longest any feed goes unchecked (NEWSWATCH_POLL_INTERVAL)."""
    owner: str = "newswatch"
    batch_size: int = 500
    lease_seconds: float = 120.0
    near_duplicate_hours: float = 48.0
    urgency: route.Urgency = field(default_factory=route.Urgency)


@dataclass
class Pipeline:
    """The stages wired to their I/O; built by the composition root (`bot.service.app`)."""

    store: Store
    fetcher: fetch.Fetcher
    rulebook: match.RuleBook
    config: PollConfig
    clock: Callable[[], datetime]
    near_index: dedupe.NearDuplicateIndex = field(default_factory=dedupe.NearDuplicateIndex)
    """The stored stories of the near-duplicate window, kept across polls."""
    fulltext: fetch.FullText | None = None
    """Article text for teaser-only stories (NEWSWATCH_FULLTEXT); None when off."""
    on_fetched: Callable[[DueFeed, FeedResponse], None] | None = None
    """Told of each feed fetched and parsed: WebSub discovery (`bot.pipeline.subscribe`,
    when NEWSWATCH_PUBLIC_URL is set); it must return at once and never raise."""


@dataclass(frozen=True, slots=True)
class FeedResult:
    """What fetching and parsing one feed produced."""

    feed: Feed
    state: FeedState
    stories: tuple[Story, ...] = ()
    """Stories that may alert."""
    backlog: tuple[Story, ...] = ()
    """Stories recorded as seen without alerting (a new feed's backlog)."""
    error: str | None = None
    not_modified: bool = False


@dataclass
class _Batch:
    new_story_rows: list[NewStory] = field(default_factory=list)
    alerts: int = 0


async def poll_once(pipeline: Pipeline, now: datetime | None = None) -> PollReport:
    """Poll every due feed once, in batches, and queue the alerts; returns what happened."""
    now = now or pipeline.clock()
    total = PollReport()
    with metrics.POLL_SECONDS.time():
        while True:
            report = await poll_batch(pipeline, now)
            metrics.STORIES.inc(report.new_stories)
            metrics.ALERTS.inc(report.alerts)
            total = merge_reports(total, report)
            if report.feeds_polled < pipeline.config.batch_size:
                break
    await pipeline.store.set_meta("last_poll_at", now.isoformat(timespec="seconds"))
    return total


async def poll_batch(pipeline: Pipeline, now: datetime) -> PollReport:
    """One batch: claim → fetch/parse (concurrently) → dedupe → match → route → save."""
    cfg = pipeline.config
    due = await pipeline.store.claim_due_feeds(
        now, limit=cfg.batch_size, owner=cfg.owner, lease_seconds=cfg.lease_seconds
    )
    results = await asyncio.gather(*(fetch_and_parse(pipeline, item, now) for item in due))
    candidates = [story for result in results for story in result.stories]
    backlog = [story for result in results for story in result.backlog]
    queued = await queue_stories(pipeline, candidates, backlog, now)
    await pipeline.store.save_feed_states({r.feed.id: r.state for r in results})
    return PollReport(
        feeds_polled=len(results),
        feeds_failed=sum(1 for r in results if r.error),
        not_modified=sum(1 for r in results if r.not_modified),
        entries_seen=len(candidates) + len(backlog),
        new_stories=queued.new_stories,
        alerts=queued.alerts,
        outbox_rows=queued.outbox_rows,
        errors=tuple(f"{r.feed.name}: {r.error}" for r in results if r.error),
    )


@dataclass(frozen=True, slots=True)
class Queued:
    """What `queue_stories` stored: new stories, the alerts among them, outbox rows."""

    new_stories: int
    alerts: int
    outbox_rows: int


async def queue_stories(
    pipeline: Pipeline, candidates: Sequence[Story], backlog: Sequence[Story], now: datetime
) -> Queued:
    """Stories polled or pushed → new ones only → [full text for teasers] → near-duplicates,
    match, route → stories and outbox rows saved in one transaction. `backlog` stories
    are stored as seen and never alert."""
    fresh = await fresh_stories(pipeline.store, [*candidates, *backlog], now)
    backlog_keys = {story.key for story in backlog}
    if pipeline.fulltext is not None:
        fresh = await pipeline.fulltext.fill(fresh, now=now, skip=backlog_keys)
    batch = await route_stories(pipeline, fresh, backlog_keys, now)
    saved = await pipeline.store.save_stories(batch.new_story_rows)
    stored = set(saved.stored_keys)
    alerts = sum(1 for row in batch.new_story_rows if row.alert and row.story.key in stored)
    return Queued(new_stories=len(stored), alerts=alerts, outbox_rows=saved.outbox_rows)


def merge_reports(a: PollReport, b: PollReport) -> PollReport:
    """The sum of two reports."""
    return PollReport(
        feeds_polled=a.feeds_polled + b.feeds_polled,
        feeds_failed=a.feeds_failed + b.feeds_failed,
        not_modified=a.not_modified + b.not_modified,
        entries_seen=a.entries_seen + b.entries_seen,
        new_stories=a.new_stories + b.new_stories,
        alerts=a.alerts + b.alerts,
        outbox_rows=a.outbox_rows + b.outbox_rows,
        errors=a.errors + b.errors,
    )


async def fetch_and_parse(pipeline: Pipeline, due: DueFeed, now: datetime) -> FeedResult:
    """Fetch one feed, parse it and normalise its entries; never raises for feed trouble."""
    feed, state = due.feed, due.state
    interval, phase = pipeline.config.interval_seconds, fetch.feed_phase(feed.url)
    interval = max(interval, fetch.SAFETY_NET_SECONDS) if due.pushed else interval

    def planned(outcome: fetch.PollOutcome) -> FeedState:
        return fetch.plan_next_poll(
            state, now=now, interval_seconds=interval, phase=phase, outcome=outcome
        )

    try:
        response = await pipeline.fetcher.fetch(feed.url, state, now)
        if response.not_modified:
            return FeedResult(feed, planned(fetch.NotModified(response)), not_modified=True)
        parsed = await asyncio.to_thread(  # CPU-heavy at the size caps: off the event loop
            parse.parse_feed,
            response.body,
            url=response.final_url,
            content_type=response.content_type,
            fetched_at=now,
        )
    except (FetchError, FeedParseError) as err:
        log.warning("feed %s (%s) failed: %s", feed.name, feed.url, err)
        return FeedResult(feed, planned(fetch.Failed(err)), error=str(err))
    stories, backlog = await asyncio.to_thread(normalize_entries, feed, state, parsed, now)
    if pipeline.on_fetched is not None:  # WebSub: subscribe to the hub the feed names
        pipeline.on_fetched(due, response)
    return FeedResult(
        feed, planned(fetch.Fetched(response, parsed)), stories=stories, backlog=backlog
    )


def normalize_entries(
    feed: Feed, state: FeedState, parsed: ParsedFeed, now: datetime
) -> tuple[tuple[Story, ...], tuple[Story, ...]]:
    """Entries → stories; on a feed's first successful poll only `feed.backfill`
    newest stories may alert, the rest are recorded as already seen."""
    publisher = feed.name or parsed.title or feed.url
    stories = [
        normalize.story_from_entry(
            entry, feed=feed, publisher=publisher, fetched_at=now, fingerprinted=False
        )
        for entry in parsed.entries
    ]
    if state.primed:
        return tuple(stories), ()
    newest_first = sorted(stories, key=lambda story: story.published, reverse=True)
    keep = newest_first[: feed.backfill]
    return tuple(keep), tuple(newest_first[feed.backfill :])


async def fresh_stories(store: Store, stories: Sequence[Story], now: datetime) -> list[Story]:
    """Stories neither repeated within this batch nor already stored, oldest first,
    with their near-duplicate fingerprints (computed only now, for new stories).
    The stored ones count as listed by their feed `now` (what retention keeps)."""
    unique, _ = dedupe.dedupe_batch(stories)
    known = await store.known_story_keys(unique, seen_at=now)
    fresh = [normalize.with_fingerprint(story) for story in unique if story.key not in known]
    return sorted(fresh, key=lambda story: story.published)


async def route_stories(
    pipeline: Pipeline, stories: Sequence[Story], backlog_keys: set[str], now: datetime
) -> _Batch:
    """Match, summarise and route each fresh story. A near-duplicate of an earlier
    story (another outlet's report) never alerts: it is recorded in that story's
    cluster, whose alert names it in a follow-up, and may make the cluster urgent."""
    batch = _Batch()
    duplicates_of = await near_duplicates(pipeline, stories, backlog_keys, now)
    clusters = await route.clusters_of(
        pipeline.store, stories, duplicates_of, pipeline.config.urgency
    )
    urgent_rules = {rule.name for rule in pipeline.rulebook.rules if rule.urgent}
    for story in stories:
        root = clusters.root_of(story.key)
        if story.key in backlog_keys or root is not None:
            if root is not None:
                log.info("another source for story %s: %s", root, story.url)
            urgent = root is not None and clusters.urgent(root)
            batch.new_story_rows.append(
                NewStory(story, None, cluster_key=root, urgent_cluster=urgent)
            )
            continue
        matches = pipeline.rulebook.match_story(story)
        if matches:  # the optional LLM check (rules with llm_check); fail-open
            matches = await pipeline.rulebook.confirm_matches(story, matches)
        if not matches:
            batch.new_story_rows.append(NewStory(story=story, alert=None))
            continue
        rules = [m.rule for m in matches]
        alert = Alert(
            story=story,
            matches=tuple(matches),
            summary=summarize.summarize(story, matches),
            urgent=clusters.urgent(story.key) or bool(urgent_rules.intersection(rules)),
        )
        recipients = await pipeline.store.recipients_for(rules, now)
        at_once, held = route.plan_deliveries(recipients, rules, urgent=alert.urgent, now=now)
        batch.new_story_rows.append(NewStory(story, alert, tuple(at_once), tuple(held)))
        batch.alerts += 1
    return batch


async def near_duplicates(
    pipeline: Pipeline, stories: Sequence[Story], backlog_keys: set[str], now: datetime
) -> dict[str, str]:
    """Map fresh story keys to the key of an earlier story (stored within the
    window, or earlier in this batch) that reports the same event.

    The stored stories come from the pipeline's index, topped up with what any
    instance stored since the last batch (this batch's stories once saved).
    Backlog stories are recorded without an alert whatever their twins, so they
    only serve as candidates and are not looked up (most of a cold start's stories).
    """
    if not stories:
        return {}
    since = now - timedelta(hours=pipeline.config.near_duplicate_hours)
    await pipeline.near_index.refresh(pipeline.store, since)
    return pipeline.near_index.group(stories, index_only=backlog_keys)
