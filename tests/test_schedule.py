"""The latency-first schedule as table tests: busy, quiet, failing, 429, Retry-After, ttl."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.errors import FeedParseError, FetchError
from bot.core.model import Entry, FeedResponse, FeedState, ParsedFeed
from bot.pipeline.fetch.schedule import (
    BACKOFF_CAP_SECONDS,
    CHECK_HEADROOM,
    Failed,
    Fetched,
    NotModified,
    PollOutcome,
    backoff_seconds,
    feed_phase,
    next_slot,
    plan_next_poll,
)

# NOW is a multiple of 540 s since the epoch: a slot of every grid used here with
# phase 0 (the 60 s interval, and the steps 54 s, 270 s and 13.5 s that the 60 s,
# 300 s and 15 s intervals give after the headroom).
NOW = datetime(2024, 4, 20, 12, 0, tzinfo=UTC)
INTERVAL = 60.0
STEP = INTERVAL * (1 - CHECK_HEADROOM)
HOUR = 3600.0


def _every(minutes: float, count: int = 10) -> tuple[datetime, ...]:
    return tuple(NOW - timedelta(minutes=minutes * i) for i in range(count))


def _response(status: int = 200, **headers: Any) -> FeedResponse:
    body = b"" if status == 304 else b"<rss/>"
    return FeedResponse("u", "u", status, body, NOW, **headers)


def _feed(times: tuple[datetime | None, ...] = (), ttl: float | None = None) -> ParsedFeed:
    entries = tuple(
        Entry(str(i), f"http://x.test/{i}", "t", published=t) for i, t in enumerate(times)
    )
    return ParsedFeed("f", None, entries, ttl)


def _plan(
    outcome: PollOutcome,
    state: FeedState | None = None,
    *,
    interval: float = INTERVAL,
    now: datetime = NOW,
    rand: float = 0.5,
) -> FeedState:
    state = state if state is not None else FeedState()
    return plan_next_poll(
        state, now=now, interval_seconds=interval, outcome=outcome, rand=lambda: rand
    )


def _delay(state: FeedState, now: datetime = NOW) -> float:
    assert state.next_poll_at is not None
    return (state.next_poll_at - now).total_seconds()


@pytest.mark.parametrize(
    ("times", "ttl", "headers", "interval", "delay"),
    [
        ((), None, {}, INTERVAL, STEP),
        (_every(2), None, {}, INTERVAL, STEP),
        (_every(24 * 60), None, {}, INTERVAL, STEP),
        (_every(7 * 24 * 60), None, {}, INTERVAL, STEP),
        (_every(2), 60 * 60, {}, INTERVAL, STEP),
        (_every(2), 7 * 24 * 3600, {}, INTERVAL, STEP),
        (_every(2), None, {"max_age_seconds": 1200.0}, INTERVAL, STEP),
        (_every(2), None, {"max_age_seconds": 10.0}, INTERVAL, STEP),
        (_every(2), None, {"retry_after_seconds": 900.0}, INTERVAL, 900.0),
        (_every(2), None, {"retry_after_seconds": 9e9}, INTERVAL, 24 * HOUR),
        (_every(2), None, {}, 300.0, 270.0),
        (_every(2), None, {}, 15.0, 13.5),
    ],
    ids=[
        "no-dates", "busy", "daily", "weekly-quiet", "ttl-1h-never-stretches",
        "ttl-7d-never-stretches", "max-age-never-stretches", "small-max-age",
        "retry-after-honoured", "retry-after-capped-24h", "own-interval-5min",
        "own-interval-15s",
    ],
)  # fmt: skip
def test_success_delay(
    times: tuple[datetime, ...],
    ttl: float | None,
    headers: dict[str, float],
    interval: float,
    delay: float,
) -> None:
    state = _plan(Fetched(_response(200, **headers), _feed(times, ttl)), interval=interval)
    assert _delay(state) == pytest.approx(delay)
    assert state.interval_seconds == interval


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({}, STEP),
        ({"max_age_seconds": 2 * HOUR}, STEP),
        ({"retry_after_seconds": 600.0}, 600.0),
    ],
    ids=["304", "304-max-age-ignored", "304-retry-after"],
)  # fmt: skip
def test_not_modified_delay(headers: dict[str, float], delay: float) -> None:
    before = FeedState(etag='"v1"', interval_seconds=HOUR, primed=True)
    state = _plan(NotModified(_response(304, **headers)), before)
    assert _delay(state) == pytest.approx(delay)


def test_success_resets_health_and_primes() -> None:
    failing = FeedState(error_count=3, last_error="connection refused", last_status=None)
    response = _response(etag='"v2"', last_modified="Sat, 20 Apr 2024 11:00:00 GMT")
    state = _plan(Fetched(response, _feed(_every(30, 3))), failing)
    assert (state.error_count, state.last_error, state.last_status) == (0, None, 200)
    assert (state.last_fetch_at, state.last_success_at, state.primed) == (NOW, NOW, True)
    assert (state.etag, state.last_modified) == ('"v2"', "Sat, 20 Apr 2024 11:00:00 GMT")


def test_success_without_validators_clears_them() -> None:
    state = _plan(Fetched(_response(), _feed()), FeedState(etag='"old"', last_modified="x"))
    assert (state.etag, state.last_modified) == (None, None)


def test_item_times_keep_the_latest_twenty_distinct() -> None:
    known = _every(60, 15)
    fresh = _every(10, 12)
    state = _plan(Fetched(_response(), _feed(fresh)), FeedState(item_times=known))
    expected = sorted(set(known) | set(fresh), reverse=True)[:20]
    assert state.item_times == tuple(expected)


def test_not_modified_keeps_validators_and_times() -> None:
    before = FeedState(
        etag='"v1"', last_modified="lm", interval_seconds=HOUR, item_times=_every(30, 3),
        error_count=2, last_error="HTTP 500", primed=True,
    )  # fmt: skip
    state = _plan(NotModified(_response(304)), before)
    assert (state.etag, state.last_modified, state.item_times) == ('"v1"', "lm", before.item_times)
    assert (state.error_count, state.last_error, state.last_status) == (0, None, 304)
    assert (state.last_success_at, state.primed) == (NOW, True)


def test_not_modified_takes_new_validators() -> None:
    state = _plan(NotModified(_response(304, etag='"v2"')), FeedState(etag='"v1"'))
    assert state.etag == '"v2"'


@pytest.mark.parametrize(
    ("errors_before", "rand", "delay"),
    [
        (0, 0.5, INTERVAL),
        (1, 0.5, 2 * INTERVAL),
        (4, 0.5, 16 * INTERVAL),
        (1, 0.0, 0.75 * 2 * INTERVAL),
        (1, 0.999999, 1.25 * 2 * INTERVAL),
        (0, 0.0, INTERVAL),
        (20, 0.5, BACKOFF_CAP_SECONDS),
        (500, 0.0, BACKOFF_CAP_SECONDS),
    ],
    ids=["first-failure", "second", "fifth", "jitter-low", "jitter-high", "never-below-interval",
         "capped-1h", "capped-after-many"],
)  # fmt: skip
def test_failure_backoff(errors_before: int, rand: float, delay: float) -> None:
    error = FetchError("connection refused")
    state = _plan(Failed(error), FeedState(error_count=errors_before, etag='"v1"'), rand=rand)
    assert _delay(state) == pytest.approx(delay, rel=1e-5)
    assert (state.error_count, state.last_error) == (errors_before + 1, "connection refused")
    assert (state.etag, state.last_fetch_at) == ('"v1"', NOW)


def test_backoff_of_a_long_own_interval_is_never_below_it() -> None:
    assert backoff_seconds(30, 2 * HOUR, lambda: 0.0) == 2 * HOUR


@pytest.mark.parametrize(
    ("status", "retry_after", "delay"),
    [(429, 3 * HOUR, 3 * HOUR), (503, 120.0, 120.0), (429, 10.0, INTERVAL), (429, 9e9, 24 * HOUR)],
    ids=["429-3h", "503-2min", "429-shorter-than-backoff", "429-capped-24h"],
)  # fmt: skip
def test_failure_honours_retry_after(status: int, retry_after: float, delay: float) -> None:
    error = FetchError(f"HTTP {status}", status=status, retry_after=retry_after)
    state = _plan(Failed(error))
    assert _delay(state) == pytest.approx(delay)
    assert state.last_status == status


def test_recovered_feed_is_back_on_its_interval() -> None:
    failing = _plan(Failed(FetchError("HTTP 500", status=500)), FeedState(error_count=30))
    assert _delay(failing) == BACKOFF_CAP_SECONDS
    recovered = _plan(Fetched(_response(), _feed()), failing)
    assert (_delay(recovered), recovered.error_count) == (STEP, 0)


def test_parse_failure_forgets_validators_and_records_status() -> None:
    error = FeedParseError("not a feed: got an HTML page (<html>)")
    state = _plan(Failed(error, _response(200)), FeedState(etag='"v1"', last_modified="lm"))
    assert (state.etag, state.last_modified, state.last_status) == (None, None, 200)
    assert state.last_error == "not a feed: got an HTML page (<html>)"
    assert not state.primed


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan")])
def test_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="interval_seconds must be positive"):
        _plan(Failed(FetchError("x")), interval=interval)


@pytest.mark.parametrize("phase", [-0.1, 1.0])
def test_phase_must_be_a_fraction(phase: float) -> None:
    with pytest.raises(ValueError, match="phase must be in"):
        plan_next_poll(
            FeedState(), now=NOW, interval_seconds=INTERVAL, phase=phase,
            outcome=NotModified(_response(304)),
        )  # fmt: skip


@pytest.mark.parametrize("late", [0.0, 0.001, 1.0, 30.0, 59.999])
@pytest.mark.parametrize("phase", [0.0, 0.25, 0.9])
def test_next_slot_is_on_the_feed_grid_and_at_most_one_interval_away(
    late: float, phase: float
) -> None:
    slot = NOW + timedelta(seconds=phase * INTERVAL)
    now = slot + timedelta(seconds=late)
    nxt = next_slot(now, INTERVAL, phase)
    assert 0 < (nxt - now).total_seconds() <= INTERVAL
    assert ((nxt - slot).total_seconds() / INTERVAL) == pytest.approx(1.0)


def test_feeds_checked_together_are_spread_over_the_interval() -> None:
    urls = [f"https://news{i}.example/rss" for i in range(1000)]
    delays = [
        _delay(
            plan_next_poll(
                FeedState(), now=NOW, interval_seconds=INTERVAL, phase=feed_phase(url),
                outcome=NotModified(_response(304)),
            )
        )
        for url in urls
    ]  # fmt: skip
    assert all(0 < d <= STEP for d in delays)
    per_nine_seconds = [sum(1 for d in delays if k * 9 < d <= (k + 1) * 9) for k in range(6)]
    assert min(per_nine_seconds) > 1000 / 6 * 0.7  # no bucket starves: no herd at one tick


def test_phase_is_stable_and_a_fraction() -> None:
    assert feed_phase("https://a.example/rss") == feed_phase("https://a.example/rss")
    assert feed_phase("https://a.example/rss") != feed_phase("https://b.example/rss")
    assert all(0.0 <= feed_phase(f"u{i}") < 1.0 for i in range(100))
