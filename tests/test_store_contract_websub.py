"""Store contract: WebSub subscriptions (`bot.store.websub`) on every backend.

One row per feed, found by callback id or feed; written whole; it outlives its
feed (feed None) until the unsubscribe; `claim_due_feeds` marks a feed pushed
while its subscription is active and its lease runs.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.model import Feed, PushState, PushSubscription
from bot.store import SqlStore
from tests.store_samples import T0, hours


def pending(feed: Feed | None, callback_id: str = "cb-1") -> PushSubscription:
    return PushSubscription(
        callback_id=callback_id,
        feed=feed,
        hub="https://hub.example/",
        topic="https://news.example/feed.xml",
        secret="s3cret",
        state=PushState.SUBSCRIBING,
        requested_at=T0,
    )


def active(sub: PushSubscription, lease_hours: float = 24) -> PushSubscription:
    return replace(
        sub,
        state=PushState.ACTIVE,
        lease_seconds=int(lease_hours * 3600),
        lease_expires_at=T0 + hours(lease_hours),
    )


async def test_a_subscription_is_found_by_callback_id_and_by_feed(store: SqlStore) -> None:
    feed = await store.add_feed("https://news.example/feed.xml", "news")
    assert await store.add_push_subscription(pending(feed))
    assert await store.push_subscription("cb-1") == pending(feed)
    assert await store.feed_push_subscription(feed.id) == pending(feed)
    assert await store.push_subscriptions() == [pending(feed)]
    assert await store.push_subscription("cb-unknown") is None
    assert await store.feed_push_subscription(feed.id + 1) is None


async def test_a_feed_has_one_subscription_and_a_callback_id_one_feed(store: SqlStore) -> None:
    one = await store.add_feed("https://news.example/one.xml", "one")
    two = await store.add_feed("https://news.example/two.xml", "two")
    assert await store.add_push_subscription(pending(one, "cb-1"))
    assert not await store.add_push_subscription(pending(one, "cb-2"))
    assert not await store.add_push_subscription(pending(two, "cb-1"))
    assert [s.callback_id for s in await store.push_subscriptions()] == ["cb-1"]


async def test_no_subscription_for_a_feed_that_is_gone(store: SqlStore) -> None:
    feed = await store.add_feed("https://news.example/feed.xml", "news")
    await store.remove_feed(feed.url)
    assert not await store.add_push_subscription(pending(feed))
    assert await store.push_subscriptions() == []


async def test_an_update_writes_every_state_field(store: SqlStore) -> None:
    feed = await store.add_feed("https://news.example/feed.xml", "news")
    await store.add_push_subscription(pending(feed))
    failed = replace(
        pending(feed),
        state=PushState.FAILED,
        last_error="hub https://hub.example/ refused the subscribe request: HTTP 403",
        attempts=2,
        retry_at=T0 + hours(1),
        requested_at=T0 + hours(0.5),
    )
    assert await store.update_push_subscription(failed)
    assert await store.push_subscription("cb-1") == failed
    verified = active(replace(failed, attempts=0, last_error=None, retry_at=None))
    assert await store.update_push_subscription(verified)
    assert await store.push_subscription("cb-1") == verified
    assert not await store.update_push_subscription(pending(feed, "cb-unknown"))


async def test_removing_a_feed_keeps_its_subscription_for_the_unsubscribe(
    store: SqlStore,
) -> None:
    feed = await store.add_feed("https://news.example/feed.xml", "news")
    await store.add_push_subscription(active(pending(feed)))
    await store.remove_feed(feed.url)
    orphan = await store.push_subscription("cb-1")
    assert orphan == replace(active(pending(feed)), feed=None)
    unsubscribing = replace(orphan, state=PushState.UNSUBSCRIBING, attempts=1)
    assert await store.update_push_subscription(unsubscribing)
    assert await store.push_subscriptions() == [unsubscribing]
    assert await store.delete_push_subscription("cb-1")
    assert not await store.delete_push_subscription("cb-1")
    assert await store.push_subscriptions() == []


async def test_an_update_never_reattaches_a_removed_feed(store: SqlStore) -> None:
    feed = await store.add_feed("https://news.example/feed.xml", "news")
    await store.add_push_subscription(pending(feed))
    await store.remove_feed(feed.url)
    assert await store.update_push_subscription(active(pending(feed)))
    got = await store.push_subscription("cb-1")
    assert got is not None and got.feed is None and got.state is PushState.ACTIVE


async def test_claimed_feeds_are_pushed_while_an_active_lease_runs(store: SqlStore) -> None:
    urls = [f"https://news.example/{n}.xml" for n in range(4)]
    feeds = [await store.add_feed(url, str(n)) for n, url in enumerate(urls)]
    await store.add_push_subscription(active(pending(feeds[0], "live")))
    await store.add_push_subscription(pending(feeds[1], "waiting"))
    await store.add_push_subscription(active(pending(feeds[2], "lapsed"), lease_hours=0.5))
    due = await store.claim_due_feeds(T0 + hours(1), limit=10, owner="a", lease_seconds=60)
    assert {d.feed.url: d.pushed for d in due} == dict(
        zip(urls, [True, False, False, False], strict=True)
    )
