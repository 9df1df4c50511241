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
from bot.core.errors import FeedParseError, FetchError, StoreError
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
from bot.core.waiting import first_of
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
    on_queued: Callable[[], None] | None = None
    """Called when outbox rows were queued (the service wakes its delivery loop)."""
    queue_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One `queue_stories` at a time per process: the near-duplicate index and the
    cluster routing see every earlier group's stories (the store's unique keys
    keep exact duplicates out across instances)."""
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


GROUP_MAX_FEEDS = 50
"""At most this many checked feeds are queued together (one dedupe/save round)."""
UNQUEUED_MAX_FEEDS = 2 * GROUP_MAX_FEEDS
"""At most this many feeds are fetched and not yet queued: a check waits for room
before it fetches, so the parsed feeds held in memory stay bounded (a cold start
of 1,000 feeds would otherwise hold most of them while the queueing catches up)."""


class CheckResults:
    """Finished checks waiting to be queued, with room for `UNQUEUED_MAX_FEEDS`."""

    def __init__(self, room: int = UNQUEUED_MAX_FEEDS) -> None:
        self._results: asyncio.Queue[FeedResult] = asyncio.Queue()
        self._room = asyncio.Semaphore(room)

    async def make_room(self) -> None:
        """Wait until one more check may fetch (released by `queued`)."""
        await self._room.acquire()

    def put(self, result: FeedResult) -> None:
        self._results.put_nowait(result)

    async def next_group(self) -> list[FeedResult]:
        """The next finished check (waiting for one) and those finished meanwhile."""
        group = [await self._results.get()]
        while len(group) < GROUP_MAX_FEEDS and not self._results.empty():
            group.append(self._results.get_nowait())
        return group

    def queued(self, group: Sequence[FeedResult]) -> None:
        """`group` is dealt with: its room goes to the next checks."""
        for _ in group:
            self._room.release()
            self._results.task_done()

    async def join(self) -> None:
        """Wait until every result put is dealt with."""
        await self._results.join()


async def poll_once(pipeline: Pipeline, now: datetime | None = None) -> PollReport:
    """Check every feed due at `now` once and queue the alerts; returns what happened.
    What tests and the demo call; the service runs `poll_continuously`."""
    now = now or pipeline.clock()
    total = PollReport()
    with metrics.POLL_SECONDS.time():
        while True:
            report = await poll_batch(pipeline, now)
            total = merge_reports(total, report)
            if report.feeds_polled < pipeline.config.batch_size:
                break
    await pipeline.store.set_meta("last_poll_at", now.isoformat(timespec="seconds"))
    return total


async def poll_continuously(
    pipeline: Pipeline,
    stop: asyncio.Event,
    *,
    max_wait_seconds: float = 2.0,
    beat: Callable[[], None] | None = None,
) -> None:
    """The service's poller, until `stop` is set: each feed is checked when it falls
    due, and its stories are queued when its own check ends. It claims due feeds
    while others are still being fetched (up to `batch_size` in flight), then
    sleeps until the next feed is due (at most `max_wait_seconds`, so feeds added or
    released by another instance are seen). On stop it claims nothing more and
    returns once the checks in flight are queued."""
    cfg = pipeline.config
    results = CheckResults()
    running: set[asyncio.Task[None]] = set()
    finished = asyncio.Event()
    queuer = asyncio.create_task(_queue_until_cancelled(pipeline, results))

    def done(task: asyncio.Task[None]) -> None:
        running.discard(task)
        finished.set()

    noted: datetime | None = None
    try:
        while not stop.is_set():
            if beat is not None:
                beat()
            now = pipeline.clock()
            wait = max_wait_seconds
            try:
                due = await pipeline.store.claim_due_feeds(
                    now,
                    limit=cfg.batch_size - len(running),
                    owner=cfg.owner,
                    lease_seconds=cfg.lease_seconds,
                )
                for item in due:
                    task = asyncio.create_task(check_feed(pipeline, item, now, results))
                    running.add(task)
                    task.add_done_callback(done)
                if due and (noted is None or now - noted >= LAST_POLL_NOTE_EVERY):
                    await pipeline.store.set_meta("last_poll_at", now.isoformat(timespec="seconds"))
                    noted = now
                if len(running) < cfg.batch_size:
                    wait = _seconds_until(await pipeline.store.next_check_at(now), now, wait)
            except StoreError as err:
                log.error("looking for due feeds failed: %s; trying again in %.0f s", err, wait)
            finished.clear()
            at_capacity = len(running) >= cfg.batch_size
            await first_of(stop, *([finished] if at_capacity else []), seconds=wait)
        if running:
            await asyncio.wait(set(running))
        await results.join()
    finally:
        queuer.cancel()
        for task in set(running):
            task.cancel()


LAST_POLL_NOTE_EVERY = timedelta(seconds=10)
"""How often the poller records `last_poll_at` (what /healthz and `status` show)."""
MIN_WAIT_SECONDS = 0.5
"""The poller's shortest sleep: feeds falling due within it are claimed together
(at most half a second late), rather than one claim, one check and one save per
feed when 1,000 feeds spread over a minute fall due every 60 ms."""


def _seconds_until(next_at: datetime | None, now: datetime, longest: float) -> float:
    if next_at is None:
        return longest
    return min(longest, max(MIN_WAIT_SECONDS, (next_at - now).total_seconds()))


async def _queue_until_cancelled(pipeline: Pipeline, results: CheckResults) -> None:
    """Queue finished checks group by group, as they come (the poller's other half)."""
    while True:
        group = await results.next_group()
        try:
            report = await queue_results(pipeline, group, pipeline.clock())
            if report.new_stories or report.feeds_failed:
                log.info(
                    "checked %d feeds: %d new stories, %d alerts, %d failed",
                    report.feeds_polled,
                    report.new_stories,
                    report.alerts,
                    report.feeds_failed,
                )
        except Exception:
            log.exception("queueing the stories of %d checked feeds failed", len(group))
        finally:
            results.queued(group)


async def poll_batch(pipeline: Pipeline, now: datetime) -> PollReport:
    """One batch: claim → check every feed concurrently, each feed's stories queued
    as soon as its own check ends (`check_feeds`)."""
    cfg = pipeline.config
    due = await pipeline.store.claim_due_feeds(
        now, limit=cfg.batch_size, owner=cfg.owner, lease_seconds=cfg.lease_seconds
    )
    return await check_feeds(pipeline, due, now)


async def check_feeds(pipeline: Pipeline, due: Sequence[DueFeed], now: datetime) -> PollReport:
    """Fetch and parse the claimed feeds concurrently and queue each one's stories
    as soon as it is parsed (with whatever others finished meanwhile, up to
    GROUP_MAX_FEEDS): a feed timing out delays no other feed's alerts."""
    results = CheckResults()
    checks = [asyncio.create_task(check_feed(pipeline, item, now, results)) for item in due]
    total, pending = PollReport(), len(due)
    try:
        while pending:
            group = await results.next_group()
            pending -= len(group)
            try:
                total = merge_reports(total, await queue_results(pipeline, group, now))
            finally:
                results.queued(group)
    finally:
        for task in checks:  # only left running when this is cancelled
            task.cancel()
    return total


async def check_feed(
    pipeline: Pipeline, due: DueFeed, now: datetime, results: CheckResults
) -> None:
    """`fetch_and_parse` one feed and put its result on `results`, always exactly one:
    a bug met on one feed is logged and planned as a failed check of that feed."""
    await results.make_room()
    try:
        result = await fetch_and_parse(pipeline, due, now)
    except Exception as err:
        log.exception("checking feed %s (%s) failed", due.feed.name, due.feed.url)
        failed = fetch.Failed(FetchError(f"internal error: {type(err).__name__}: {err}"))
        state = fetch.plan_next_poll(
            due.state,
            now=now,
            interval_seconds=interval_of(pipeline, due),
            phase=fetch.feed_phase(due.feed.url),
            outcome=failed,
        )
        result = FeedResult(due.feed, state, error=str(failed.error))
    results.put(result)


async def queue_results(
    pipeline: Pipeline, group: Sequence[FeedResult], now: datetime
) -> PollReport:
    """Queue the stories of finished checks and save their feeds' states. When the
    store fails, the feeds stay leased and are checked again when the lease ends
    (their stories are still listed then: nothing is lost)."""
    candidates = [story for result in group for story in result.stories]
    backlog = [story for result in group for story in result.backlog]
    errors = tuple(f"{r.feed.name}: {r.error}" for r in group if r.error)
    try:
        queued = NOTHING_QUEUED
        if candidates or backlog:  # most checks are 304s: nothing to dedupe or match
            queued = await queue_stories(pipeline, candidates, backlog, now)
        await pipeline.store.save_feed_states({r.feed.id: r.state for r in group})
    except StoreError as err:
        log.error(
            "saving the stories of %d checked feeds failed: %s; they are checked again "
            "when their leases end",
            len(group),
            err,
        )
        return PollReport(feeds_failed=len(group), errors=(*errors, f"store: {err}"))
    metrics.STORIES.inc(queued.new_stories)
    metrics.ALERTS.inc(queued.alerts)
    return PollReport(
        feeds_polled=len(group),
        feeds_failed=sum(1 for r in group if r.error),
        not_modified=sum(1 for r in group if r.not_modified),
        entries_seen=len(candidates) + len(backlog),
        new_stories=queued.new_stories,
        alerts=queued.alerts,
        outbox_rows=queued.outbox_rows,
        errors=errors,
    )


@dataclass(frozen=True, slots=True)
class Queued:
    """What `queue_stories` stored: new stories, the alerts among them, outbox rows."""

    new_stories: int
    alerts: int
    outbox_rows: int


NOTHING_QUEUED = Queued(new_stories=0, alerts=0, outbox_rows=0)


async def queue_stories(
    pipeline: Pipeline, candidates: Sequence[Story], backlog: Sequence[Story], now: datetime
) -> Queued:
    """Stories polled or pushed → new ones only → [full text for teasers] → near-duplicates,
    match, route → stories and outbox rows saved in one transaction. `backlog` stories
    are stored as seen and never alert."""
    async with pipeline.queue_lock:
        queued = await _queue_stories(pipeline, candidates, backlog, now)
    if queued.outbox_rows and pipeline.on_queued is not None:
        pipeline.on_queued()
    return queued


async def _queue_stories(
    pipeline: Pipeline, candidates: Sequence[Story], backlog: Sequence[Story], now: datetime
) -> Queued:
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


def interval_of(pipeline: Pipeline, due: DueFeed) -> float:
    """The longest a feed goes unchecked: its own interval or NEWSWATCH_POLL_INTERVAL;
    for a feed a WebSub hub pushes, at least the safety net's `SAFETY_NET_SECONDS`."""
    feed = due.feed
    interval = feed.interval if feed.interval is not None else pipeline.config.interval_seconds
    return max(interval, fetch.SAFETY_NET_SECONDS) if due.pushed else interval


async def fetch_and_parse(pipeline: Pipeline, due: DueFeed, now: datetime) -> FeedResult:
    """Fetch one feed, parse it and normalise its entries; never raises for feed trouble."""
    feed, state = due.feed, due.state
    interval, phase = interval_of(pipeline, due), fetch.feed_phase(feed.url)

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
    new = [story for story in unique if story.key not in known]
    fresh = await asyncio.to_thread(lambda: [normalize.with_fingerprint(s) for s in new])
    return sorted(fresh, key=lambda story: story.published)


async def route_stories(
    pipeline: Pipeline, stories: Sequence[Story], backlog_keys: set[str], now: datetime
) -> _Batch:
    """Match, summarise and route each fresh story. A near-duplicate of an earlier
    story (another outlet's report) never alerts: it is recorded in that story's
    cluster, whose alert names it in a follow-up, and may make the cluster urgent.
    Matching and summarising (CPU-heavy at the text bounds) run in a worker thread."""
    batch = _Batch()
    duplicates_of = await near_duplicates(pipeline, stories, backlog_keys, now)
    clusters = await route.clusters_of(
        pipeline.store, stories, duplicates_of, pipeline.config.urgency
    )
    rulebook = pipeline.rulebook
    urgent_rules = {rule.name for rule in rulebook.rules if rule.urgent}
    candidates: list[Story] = []
    for story in stories:
        root = clusters.root_of(story.key)
        if story.key in backlog_keys or root is not None:
            if root is not None:
                log.info("another source for story %s: %s", root, story.url)
            urgent = root is not None and clusters.urgent(root)
            batch.new_story_rows.append(
                NewStory(story, None, cluster_key=root, urgent_cluster=urgent)
            )
        else:
            candidates.append(story)
    found = await asyncio.to_thread(lambda: [rulebook.match_story(s) for s in candidates])
    confirmed = [  # the optional LLM check (rules with llm_check); fail-open
        await rulebook.confirm_matches(story, matches) if matches else matches
        for story, matches in zip(candidates, found, strict=True)
    ]
    matched = [(story, m) for story, m in zip(candidates, confirmed, strict=True) if m]
    summaries = await asyncio.to_thread(lambda: [summarize.summarize(s, m) for s, m in matched])
    batch.new_story_rows.extend(
        NewStory(story=story, alert=None)
        for story, matches in zip(candidates, confirmed, strict=True)
        if not matches
    )
    for (story, matches), summary in zip(matched, summaries, strict=True):
        rules = [m.rule for m in matches]
        alert = Alert(
            story=story,
            matches=tuple(matches),
            summary=summary,
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
    return await asyncio.to_thread(pipeline.near_index.group, stories, index_only=backlog_keys)
