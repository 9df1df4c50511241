"""Feed-health conditions and the notice sender, on a real store (the platforms are
a recording stand-in here; the end-to-end tests use the Telegram and Slack ones)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.core.errors import DestinationGoneError, RetryableDeliveryError
from bot.core.model import Alert, Destination, Feed, FeedState, Story
from bot.delivery.loop import DeliveryPolicy
from bot.delivery.notices import NoticeSender
from bot.pipeline.health import HealthLimits, check_feed_health, feed_conditions, usual_gap
from bot.store import SqlStore
from bot.store.base import FeedHealth
from tests.store_samples import T0, hours

ADMIN = Destination("telegram", "900")
LIMITS = HealthLimits(failing_after=3, quiet_factor=10, quiet_min=timedelta(hours=72))


@dataclass
class Recorder:
    """A notifier that records notices, or raises what it is told to."""

    platform: str = "telegram"
    sent: list[tuple[Destination, str]] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    async def send(self, destination: Destination, alert: Alert) -> str:
        raise AssertionError("no alerts here")

    async def update(
        self, destination: Destination, message_id: str, alert: Alert, sources: Sequence[Story]
    ) -> None:
        raise AssertionError("no alerts here")

    async def send_notice(self, destination: Destination, text: str) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((destination, text))
        return str(len(self.sent))

    async def close(self) -> None:
        return None


def health(**state: object) -> FeedHealth:
    return FeedHealth(Feed(1, "https://a.example/rss", "a"), FeedState(**state))  # type: ignore[arg-type]


def test_usual_gap_needs_three_items() -> None:
    assert usual_gap([T0, T0 + hours(1)]) is None
    assert usual_gap([T0, T0 + hours(1), T0 + hours(3), T0 + hours(3)]) == hours(1.5)


def test_conditions() -> None:
    times = tuple(T0 - hours(n) for n in range(5))  # hourly
    assert feed_conditions(health(item_times=times), LIMITS, T0 + hours(71)) == {
        "failing": False,
        "quiet": False,
    }
    assert feed_conditions(health(item_times=times), LIMITS, T0 + hours(73))["quiet"]
    daily = tuple(T0 - hours(24 * n) for n in range(5))
    assert not feed_conditions(health(item_times=daily), LIMITS, T0 + hours(24 * 9))["quiet"]
    assert feed_conditions(health(item_times=daily), LIMITS, T0 + hours(24 * 11))["quiet"]
    failing = feed_conditions(health(item_times=times, error_count=3), LIMITS, T0 + hours(99))
    assert failing == {"failing": True}  # quiet is not judged while it fails
    assert feed_conditions(health(), LIMITS, T0) == {"failing": False}


async def test_alarms_are_raised_and_cleared_once(store: SqlStore) -> None:
    feed = await store.add_feed("https://a.example/rss", "a")
    await store.save_feed_state(feed.id, FeedState(error_count=3, last_error="HTTP 500"))
    [text] = await check_feed_health(store, LIMITS, [ADMIN], T0)
    assert text == "newswatch: feed a (id 1) is failing: 3 checks in a row — HTTP 500"
    assert await check_feed_health(store, LIMITS, [ADMIN], T0) == []
    await store.save_feed_state(feed.id, FeedState(error_count=0, last_status=200))
    assert await check_feed_health(store, LIMITS, [ADMIN], T0) == [
        "newswatch: feed a (id 1) works again (HTTP 200)"
    ]
    assert await check_feed_health(store, LIMITS, [ADMIN], T0) == []


async def test_the_sender_sends_once_retries_and_gives_up(store: SqlStore) -> None:
    recorder = Recorder(errors=[RetryableDeliveryError("timed out")])
    clock = [T0]
    sender = NoticeSender(store, {"telegram": recorder}, DeliveryPolicy(), lambda: clock[0])
    await store.queue_notices([(ADMIN, "one"), (Destination("slack", "C1"), "two")], T0)
    assert await sender.send_once() == 0  # one timed out, one has no notifier yet
    clock[0] = T0 + hours(1)
    assert await sender.send_once() == 1
    assert recorder.sent == [(ADMIN, "one")]
    assert await sender.send_once() == 0  # sent: never again
    recorder.errors.append(DestinationGoneError("bot blocked"))
    await store.queue_notices([(ADMIN, "three")], clock[0])
    assert await sender.send_once() == 0
    clock[0] += hours(24)
    sender.notifiers = {"telegram": recorder, "slack": Recorder(platform="slack")}
    assert await sender.send_once() == 1  # only the Slack one: the blocked one is dead
    assert recorder.sent == [(ADMIN, "one")]
