"""When to poll a feed next: a pure function of its state and the last poll's outcome.

Rules, in order of strength:
1. Never sooner than the floor (`NEWSWATCH_POLL_INTERVAL`).
2. After a failure: exponential backoff floor·2^n with ±25 % jitter (so many
   feeds failing together do not retry together), at least the server's
   `Retry-After`, at most 24 h.
3. After a success: the feed's own rhythm, half the median gap between its
   recent items (so a new item waits about a quarter gap on average), kept
   within [floor, max(floor, 6 h)]; but no sooner than the feed asks (RSS
   `<ttl>`, `Cache-Control: max-age`, `Retry-After`), each hint capped at 24 h.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise

from bot.core.errors import FeedParseError, FetchError
from bot.core.model import FeedResponse, FeedState, ParsedFeed

ADAPTIVE_CEILING_SECONDS = 6 * 3600.0
HINT_CAP_SECONDS = 24 * 3600.0
BACKOFF_CAP_SECONDS = 24 * 3600.0
ITEM_TIMES_KEPT = 20
JITTER = 0.25


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


def plan_next_poll(
    state: FeedState,
    *,
    now: datetime,
    floor_seconds: float,
    outcome: PollOutcome,
    rand: Callable[[], float] = random.random,
) -> FeedState:
    """The feed's state after `outcome`, including when to poll it next.

    `rand` returns a float in [0, 1) for the backoff jitter; tests pass a fixed one.
    """
    if floor_seconds <= 0:
        raise ValueError(f"floor_seconds must be positive, got {floor_seconds}")
    if isinstance(outcome, Fetched):
        return _after_success(state, outcome, now, floor_seconds)
    if isinstance(outcome, NotModified):
        return _after_not_modified(state, outcome, now, floor_seconds)
    return _after_failure(state, outcome, now, floor_seconds, rand)


def _after_success(state: FeedState, outcome: Fetched, now: datetime, floor: float) -> FeedState:
    response = outcome.response
    times = merge_item_times(state.item_times, outcome.feed, now)
    interval = max(
        adaptive_interval(times, floor),
        _capped_hint(outcome.feed.ttl_seconds),
        _capped_hint(response.max_age_seconds),
        _capped_hint(response.retry_after_seconds),
    )
    return replace(
        _succeeded(state, response, now),
        etag=response.etag,
        last_modified=response.last_modified,
        interval_seconds=interval,
        next_poll_at=now + timedelta(seconds=interval),
        primed=True,
        item_times=times,
    )


def _after_not_modified(
    state: FeedState, outcome: NotModified, now: datetime, floor: float
) -> FeedState:
    response = outcome.response
    # A 304 carries no ttl, so the interval planned at the last 200 stands.
    interval = max(
        state.interval_seconds or adaptive_interval(state.item_times, floor),
        floor,
        _capped_hint(response.max_age_seconds),
        _capped_hint(response.retry_after_seconds),
    )
    return replace(
        _succeeded(state, response, now),
        # Servers may omit validators on a 304; the stored ones still describe the body.
        etag=response.etag or state.etag,
        last_modified=response.last_modified or state.last_modified,
        interval_seconds=interval,
        next_poll_at=now + timedelta(seconds=interval),
    )


def _succeeded(state: FeedState, response: FeedResponse, now: datetime) -> FeedState:
    return replace(
        state,
        last_fetch_at=now,
        last_success_at=now,
        last_status=response.status,
        last_error=None,
        error_count=0,
    )


def _after_failure(
    state: FeedState,
    outcome: Failed,
    now: datetime,
    floor: float,
    rand: Callable[[], float],
) -> FeedState:
    error = outcome.error
    errors = state.error_count + 1
    retry_after = error.retry_after if isinstance(error, FetchError) else None
    delay = backoff_seconds(errors, floor, rand)
    if retry_after is not None:
        delay = max(delay, min(retry_after, BACKOFF_CAP_SECONDS))
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
        next_poll_at=now + timedelta(seconds=delay),
        # Forget validators of a body we could not read, so the next poll gets it again.
        etag=None if unreadable else state.etag,
        last_modified=None if unreadable else state.last_modified,
    )


def backoff_seconds(errors: int, floor: float, rand: Callable[[], float]) -> float:
    """floor·2^errors with ±25 % jitter, never below the floor, at most 24 h."""
    base = floor * 2.0 ** min(errors, 32)
    jittered = base * (1 - JITTER + 2 * JITTER * rand())
    return max(floor, min(jittered, BACKOFF_CAP_SECONDS))


def adaptive_interval(item_times: tuple[datetime, ...], floor: float) -> float:
    """Half the median gap between the feed's recent items, within [floor, max(floor, 6 h)].

    Zero gaps (items published together) are ignored: a batch of ten every six
    hours is a six-hour feed. With fewer than two distinct times we know
    nothing yet and poll at the floor.
    """
    ordered = sorted(set(item_times))
    gaps = [(b - a).total_seconds() for a, b in pairwise(ordered)]
    if not gaps:
        return floor
    return min(max(statistics.median(gaps) / 2, floor), max(floor, ADAPTIVE_CEILING_SECONDS))


def merge_item_times(
    known: tuple[datetime, ...], feed: ParsedFeed, now: datetime
) -> tuple[datetime, ...]:
    """The latest `ITEM_TIMES_KEPT` distinct item times, newest first (future ones ignored)."""
    fresh = {e.published for e in feed.entries if e.published is not None and e.published <= now}
    return tuple(sorted(fresh | set(known), reverse=True)[:ITEM_TIMES_KEPT])


def _capped_hint(seconds: float | None) -> float:
    return min(seconds, HINT_CAP_SECONDS) if seconds else 0.0
