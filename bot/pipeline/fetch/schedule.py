"""When to check a feed next: a pure function of its state and the last check's outcome.

Latency first: the interval (`NEWSWATCH_POLL_INTERVAL`, 60 s by default) is the
*longest* any feed goes unchecked, whatever its posting rhythm. A quiet
ministry feed is checked as often as a busy wire: its rare items are the ones
that matter, and a conditional GET (ETag / Last-Modified → 304) keeps each
check cheap. Rules, in order:

1. After a 200 or a 304: the next slot of the feed's own grid, at most one
   interval away: the grid's step is the interval less `CHECK_HEADROOM`
   (10 %), so that a story appearing just after a check is also fetched,
   matched and delivered within the interval, not only checked (54 s at the
   default 60 s: 1.11 requests per feed per minute). The grid is offset by
   the feed's stable `phase` (a fraction of the interval derived from its
   URL), so 1,000 feeds are spread over the interval instead of all being
   checked at each tick. RSS `<ttl>` and
   `Cache-Control: max-age` never stretch a check past the interval: they are
   only hints for caches, and the point of the bot is to be early.
2. A server that asks for less (429 or 503 with `Retry-After`, or a
   `Retry-After` on any answer) is honoured: the server's limit is the
   server's, and ignoring it gets the feed blocked. Capped at 24 h.
3. After any other failure: exponential backoff interval·2^n with ±25 %
   jitter (so feeds failing together do not retry together), capped at 1 h
   so a recovered feed is seen soon.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.core.errors import FeedParseError, FetchError
from bot.core.model import FeedResponse, FeedState, ParsedFeed

RETRY_AFTER_CAP_SECONDS = 24 * 3600.0
BACKOFF_CAP_SECONDS = 3600.0
ITEM_TIMES_KEPT = 20
JITTER = 0.25
CHECK_HEADROOM = 0.1
"""The share of the interval left for what follows a check (its start on a busy
poller, the fetch, matching, delivery): checks run every (1 − this) × interval."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 200 whose body parsed as a feed."""

    response: FeedResponse
    feed: ParsedFeed


@dataclass(frozen=True, slots=True)
class NotModified:
    """A 304: the feed is as we last saw it."""

    response: FeedResponse


@dataclass(frozen=True, slots=True)
class Failed:
    """The fetch failed, or the body was not a feed (then `response` is the 200 we got)."""

    error: FetchError | FeedParseError
    response: FeedResponse | None = None


PollOutcome = Fetched | NotModified | Failed


def feed_phase(url: str) -> float:
    """A stable fraction in [0, 1) for `url`: where in each interval the feed is checked."""
    return zlib.crc32(url.encode("utf-8", "surrogatepass")) / 2**32


def plan_next_poll(
    state: FeedState,
    *,
    now: datetime,
    interval_seconds: float,
    outcome: PollOutcome,
    phase: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> FeedState:
    """The feed's state after `outcome`, including when to check it next.

    `phase` is the feed's place in the interval (`feed_phase(url)`); `rand`
    returns a float in [0, 1) for the backoff jitter; tests pass fixed ones.
    """
    if not interval_seconds > 0:
        raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
    if not 0.0 <= phase < 1.0:
        raise ValueError(f"phase must be in [0, 1), got {phase}")
    if isinstance(outcome, Failed):
        return _after_failure(state, outcome, now, interval_seconds, rand)
    response = outcome.response
    next_at = next_slot(now, interval_seconds * (1 - CHECK_HEADROOM), phase)
    retry_after = response.retry_after_seconds
    if retry_after:
        next_at = max(next_at, now + timedelta(seconds=min(retry_after, RETRY_AFTER_CAP_SECONDS)))
    succeeded = replace(
        state,
        last_fetch_at=now,
        last_success_at=now,
        last_status=response.status,
        last_error=None,
        error_count=0,
        interval_seconds=interval_seconds,
        next_poll_at=next_at,
    )
    if isinstance(outcome, NotModified):
        # Servers may omit validators on a 304; the stored ones still describe the body.
        return replace(
            succeeded,
            etag=response.etag or state.etag,
            last_modified=response.last_modified or state.last_modified,
        )
    return replace(
        succeeded,
        etag=response.etag,
        last_modified=response.last_modified,
        primed=True,
        item_times=merge_item_times(state.item_times, outcome.feed, now),
    )


def next_slot(now: datetime, interval: float, phase: float) -> datetime:
    """The first instant after `now` on the grid `phase·interval + k·interval` (epoch-based).

    At most one interval away, so no feed goes unchecked longer than that
    while its checks run on time; a check that ran late still lands on the
    grid, keeping feeds spread out.
    """
    stamp = now.timestamp()
    offset = phase * interval
    k = math.floor((stamp - offset) / interval) + 1
    slot = offset + k * interval
    return now + timedelta(seconds=slot - stamp)


def _after_failure(
    state: FeedState,
    outcome: Failed,
    now: datetime,
    interval: float,
    rand: Callable[[], float],
) -> FeedState:
    error = outcome.error
    errors = state.error_count + 1
    retry_after = error.retry_after if isinstance(error, FetchError) else None
    delay = backoff_seconds(errors, interval, rand)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP_SECONDS))
    status = error.status if isinstance(error, FetchError) else None
    if status is None and outcome.response is not None:
        status = outcome.response.status
    unreadable = isinstance(error, FeedParseError)
    return replace(
        state,
        last_fetch_at=now,
        last_status=status,
        last_error=str(error),
        error_count=errors,
        interval_seconds=interval,
        next_poll_at=now + timedelta(seconds=delay),
        # Forget validators of a body we could not read, so the next check gets it again.
        etag=None if unreadable else state.etag,
        last_modified=None if unreadable else state.last_modified,
    )


def backoff_seconds(errors: int, interval: float, rand: Callable[[], float]) -> float:
    """interval·2^(errors-1) with ±25 % jitter: at least the interval, at most 1 h.

    The first failure retries after about one interval (a blip costs one
    check), then 2, 4, 8 … intervals.
    """
    base = interval * 2.0 ** min(max(errors - 1, 0), 32)
    jittered = base * (1 - JITTER + 2 * JITTER * rand())
    return max(interval, min(jittered, max(interval, BACKOFF_CAP_SECONDS)))


def merge_item_times(
    known: tuple[datetime, ...], feed: ParsedFeed, now: datetime
) -> tuple[datetime, ...]:
    """The latest `ITEM_TIMES_KEPT` distinct item times, newest first (future ones ignored).

    Kept for `status` and the feed-health check (a feed that goes quiet), not
    for the schedule.
    """
    fresh = {e.published for e in feed.entries if e.published is not None and e.published <= now}
    return tuple(sorted(fresh | set(known), reverse=True)[:ITEM_TIMES_KEPT])
