"""Poll planning: table tests over outcomes, rates, hints and failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.errors import FeedParseError, FetchError
from bot.core.model import Entry, FeedResponse, FeedState, ParsedFeed
from bot.pipeline.fetch.schedule import (
    Failed,
    Fetched,
    NotModified,
    PollOutcome,
    adaptive_interval,
    backoff_seconds,
    plan_next_poll,
)

NOW = datetime(2024, 4, 20, 12, 0, tzinfo=UTC)
FLOOR = 300.0
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


def _plan(outcome: PollOutcome, state: FeedState | None = None) -> FeedState:
    state = state if state is not None else FeedState()
    return plan_next_poll(state, now=NOW, floor_seconds=FLOOR, outcome=outcome, rand=lambda: 0.5)


@pytest.mark.parametrize(
    ("times", "ttl", "headers", "interval"),
    [
        ((), None, {}, FLOOR),
        (_every(2), None, {}, FLOOR),
        (_every(30), None, {}, 15 * 60),
        (_every(180), None, {}, 90 * 60),
        (_every(24 * 60), None, {}, 6 * HOUR),
        (_every(2), 60 * 60, {}, HOUR),
        (_every(2), None, {"max_age_seconds": 1200.0}, 1200.0),
        (_every(2), None, {"retry_after_seconds": 900.0}, 900.0),
        (_every(2), 7 * 24 * 3600, {}, 24 * HOUR),
        (_every(30), 60, {"max_age_seconds": 10.0}, 15 * 60),
        ((NOW, NOW, NOW - timedelta(hours=4), NOW - timedelta(hours=4)), None, {}, 2 * HOUR),
        ((NOW + timedelta(hours=1), NOW, NOW - timedelta(minutes=20)), None, {}, 10 * 60),
    ],
    ids=[
        "no-dates-floor", "busy-at-floor", "half-hourly", "three-hourly", "daily-capped-6h",
        "ttl-1h", "max-age", "retry-after", "ttl-capped-24h", "small-hints-ignored",
        "batches-ignore-zero-gaps", "future-times-ignored",
    ],
)  # fmt: skip
def test_success_interval(
    times: tuple[datetime, ...], ttl: float | None, headers: dict[str, float], interval: float
) -> None:
    state = _plan(Fetched(_response(200, **headers), _feed(times, ttl)))
    assert state.interval_seconds == pytest.approx(interval)
    assert state.next_poll_at == NOW + timedelta(seconds=interval)


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


def test_not_modified_keeps_validators_interval_and_times() -> None:
    before = FeedState(
        etag='"v1"', last_modified="lm", interval_seconds=HOUR, item_times=_every(30, 3),
        error_count=2, last_error="HTTP 500", primed=True,
    )  # fmt: skip
    state = _plan(NotModified(_response(304)), before)
    assert (state.etag, state.last_modified, state.item_times) == ('"v1"', "lm", before.item_times)
    assert (state.interval_seconds, state.next_poll_at) == (HOUR, NOW + timedelta(hours=1))
    assert (state.error_count, state.last_error, state.last_status) == (0, None, 304)
    assert (state.last_success_at, state.primed) == (NOW, True)


def test_not_modified_takes_new_validators_and_hints() -> None:
    state = _plan(
        NotModified(_response(304, etag='"v2"', max_age_seconds=2 * HOUR)),
        FeedState(etag='"v1"', interval_seconds=600.0),
    )
    assert (state.etag, state.interval_seconds) == ('"v2"', 2 * HOUR)


@pytest.mark.parametrize(
    ("errors_before", "rand", "delay"),
    [
        (0, 0.5, 2 * FLOOR),
        (1, 0.5, 4 * FLOOR),
        (4, 0.5, 32 * FLOOR),
        (0, 0.0, 0.75 * 2 * FLOOR),
        (0, 0.999999, 1.25 * 2 * FLOOR),
        (20, 0.5, 24 * HOUR),
        (500, 0.0, 24 * HOUR),
    ],
)
def test_failure_backoff(errors_before: int, rand: float, delay: float) -> None:
    error = FetchError("connection refused")
    state = plan_next_poll(
        FeedState(error_count=errors_before, interval_seconds=600.0, etag='"v1"'),
        now=NOW, floor_seconds=FLOOR, outcome=Failed(error), rand=lambda: rand,
    )  # fmt: skip
    assert state.next_poll_at is not None
    assert (state.next_poll_at - NOW).total_seconds() == pytest.approx(delay, rel=1e-5)
    assert (state.error_count, state.last_error) == (errors_before + 1, "connection refused")
    assert (state.interval_seconds, state.etag, state.last_fetch_at) == (600.0, '"v1"', NOW)


@pytest.mark.parametrize(
    ("retry_after", "delay"), [(3 * HOUR, 3 * HOUR), (10.0, 2 * FLOOR), (9e9, 24 * HOUR)]
)
def test_failure_honours_retry_after(retry_after: float, delay: float) -> None:
    error = FetchError("HTTP 429 Too Many Requests", status=429, retry_after=retry_after)
    state = _plan(Failed(error))
    assert state.next_poll_at == NOW + timedelta(seconds=delay)
    assert state.last_status == 429


def test_parse_failure_forgets_validators_and_records_status() -> None:
    error = FeedParseError("not a feed: got an HTML page (<html>)")
    state = _plan(Failed(error, _response(200)), FeedState(etag='"v1"', last_modified="lm"))
    assert (state.etag, state.last_modified, state.last_status) == (None, None, 200)
    assert state.last_error == "not a feed: got an HTML page (<html>)"
    assert not state.primed


@pytest.mark.parametrize("floor", [0.0, -1.0])
def test_floor_must_be_positive(floor: float) -> None:
    with pytest.raises(ValueError, match="floor_seconds must be positive"):
        plan_next_poll(FeedState(), now=NOW, floor_seconds=floor, outcome=Failed(FetchError("x")))


@pytest.mark.parametrize("floor", [1.0, 60.0, 8 * HOUR])
def test_never_sooner_than_the_floor(floor: float) -> None:
    outcomes: list[PollOutcome] = [
        Fetched(_response(), _feed(_every(0.1))),
        NotModified(_response(304)),
        Failed(FetchError("x", retry_after=0.0)),
    ]
    for outcome in outcomes:
        state = plan_next_poll(
            FeedState(), now=NOW, floor_seconds=floor, outcome=outcome, rand=lambda: 0.0
        )
        assert state.next_poll_at is not None
        assert (state.next_poll_at - NOW).total_seconds() >= floor


def test_adaptive_interval_and_backoff_helpers() -> None:
    assert adaptive_interval(_every(60), 8 * HOUR) == 8 * HOUR
    assert backoff_seconds(1, 100.0, lambda: 0.5) == 200.0
