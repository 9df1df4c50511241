"""Store contract, issue 9: feedback clicks, feed alarms with their notices, and
retention (`prune`, `last_seen_at`), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.core.model import Destination, Feedback
from bot.store import NewStory, SqlStore
from tests.store_samples import T0, chat, hours, make_story, new_story

ADMIN = Destination("telegram", "900")


def click(rule: str = "drone_strike", **changes: object) -> Feedback:
    item = Feedback(
        rule=rule,
        kind="not_relevant",
        story_key="s1",
        title="A title",
        url="https://news.example/s1",
        actor="telegram:900 (ana)",
        at=T0,
        outcome="proposed",
        proposal={"example": "negative", "text": "A title", "backtest": {"matched": 3}},
    )
    return replace(item, **changes)  # type: ignore[arg-type]


# ── feedback ───────────────────────────────────────────────────────────────


async def test_feedback_round_trips_and_lists_newest_first(store: SqlStore) -> None:
    first = await store.record_feedback(click())
    second = await store.record_feedback(click(at=T0 + hours(1), kind="more_like_this"))
    await store.record_feedback(click(rule="other"))
    listed = await store.feedback_for("drone_strike")
    assert [item.id for item in listed] == [second, first]
    assert listed[1] == replace(click(), id=first)
    assert await store.get_feedback(first) == listed[1]
    assert await store.get_feedback(10_000) is None
    assert await store.feedback_counts("drone_strike") == {
        ("not_relevant", "proposed"): 1,
        ("more_like_this", "proposed"): 1,
    }


async def test_only_one_decision_wins(store: SqlStore) -> None:
    item = await store.record_feedback(click())
    outcomes = await asyncio.gather(
        store.decide_feedback(item, outcome="applied", actor="a", at=T0),
        store.decide_feedback(item, outcome="skipped", actor="b", at=T0),
    )
    assert sorted(outcomes) == [False, True]
    decided = await store.get_feedback(item)
    assert decided is not None and decided.outcome in ("applied", "skipped")
    assert decided.decided_by == ("a" if decided.outcome == "applied" else "b")
    assert decided.decided_at == T0
    noted = await store.record_feedback(click(outcome="noted", proposal=None))
    assert not await store.decide_feedback(noted, outcome="applied", actor="a", at=T0)


# ── feed alarms and notices ────────────────────────────────────────────────


async def test_an_alarm_queues_its_notices_once_per_change(store: SqlStore) -> None:
    feed = await store.add_feed("https://a.example/rss", "a")
    notices = [(ADMIN, "feed a is failing"), (Destination("slack", "C1"), "feed a is failing")]
    assert await store.set_feed_alarm(feed.id, "failing", raised=True, at=T0, notices_to=notices)
    assert not await store.set_feed_alarm(
        feed.id, "failing", raised=True, at=T0, notices_to=notices
    )
    assert await store.feed_alarms() == {(feed.id, "failing")}
    claimed = await store.claim_notices(T0, limit=10, owner="x", lease_seconds=60)
    assert [(n.destination, n.text) for n in claimed] == notices
    assert await store.claim_notices(T0, limit=10, owner="y", lease_seconds=60) == []
    for notice in claimed:
        await store.mark_notice_sent(notice.id, at=T0)
    later = T0 + hours(1)
    assert await store.claim_notices(later, limit=10, owner="x", lease_seconds=60) == []
    recovered = [(ADMIN, "feed a works again")]
    assert await store.set_feed_alarm(
        feed.id, "failing", raised=False, at=later, notices_to=recovered
    )
    assert not await store.set_feed_alarm(
        feed.id, "failing", raised=False, at=later, notices_to=recovered
    )
    assert await store.feed_alarms() == set()
    [notice] = await store.claim_notices(later, limit=10, owner="x", lease_seconds=60)
    assert notice.text == "feed a works again"


async def test_concurrent_checks_raise_an_alarm_once(store: SqlStore) -> None:
    feed = await store.add_feed("https://a.example/rss", "a")
    notices = [(ADMIN, "failing")]
    raised = await asyncio.gather(
        *(
            store.set_feed_alarm(feed.id, "failing", raised=True, at=T0, notices_to=notices)
            for _ in range(5)
        )
    )
    assert raised.count(True) == 1
    assert len(await store.claim_notices(T0, limit=10, owner="x", lease_seconds=60)) == 1


async def test_a_notice_retried_or_given_up(store: SqlStore) -> None:
    await store.queue_notices([(ADMIN, "one"), (ADMIN, "two")], T0)
    first, second = await store.claim_notices(T0, limit=10, owner="x", lease_seconds=60)
    await store.mark_notice_retry(first.id, error="429", next_attempt_at=T0 + hours(1))
    await store.mark_notice_dead(second.id, error="blocked")
    assert await store.claim_notices(T0, limit=10, owner="x", lease_seconds=60) == []
    [again] = await store.claim_notices(T0 + hours(1), limit=10, owner="x", lease_seconds=60)
    assert (again.id, again.attempts) == (first.id, 1)
    leased = await store.claim_notices(T0, limit=10, owner="y", lease_seconds=60)
    assert leased == []  # a lease that has not expired keeps it from others


async def test_a_removed_feed_raises_no_alarm(store: SqlStore) -> None:
    feed = await store.add_feed("https://a.example/rss", "a")
    await store.remove_feed(feed.url)
    assert not await store.set_feed_alarm(
        feed.id, "quiet", raised=True, at=T0, notices_to=[(ADMIN, "quiet")]
    )
    assert await store.claim_notices(T0, limit=10, owner="x", lease_seconds=60) == []


# ── retention ──────────────────────────────────────────────────────────────


async def test_prune_deletes_old_stories_but_keeps_listed_and_needed_ones(
    store: SqlStore,
) -> None:
    old = {"fetched_at": T0, "published": T0}
    await store.save_stories(
        [
            NewStory(make_story("gone", **old), None),  # old, never listed again
            NewStory(make_story("listed", **old), None),  # old, but its feed still lists it
            new_story("pending", chat("1"), **old),  # old, its alert not sent yet
            new_story("sent", chat("2"), **old),  # old, its alert sent long ago
            NewStory(make_story("fresh", fetched_at=T0 + hours(24 * 40)), None),
        ]
    )
    later = T0 + hours(24 * 40)
    known = await store.known_story_keys([make_story("listed", **old)], seen_at=later)
    assert known == {"listed"}
    items = await store.claim_outbox(T0, limit=10, owner="x", lease_seconds=60)
    sent = next(i for i in items if i.alert.story.key == "sent")
    await store.mark_sent(sent.id, message_id="1", at=T0)

    report = await store.prune(stories_before=later - hours(24 * 30), sent_before=later)
    assert (report.stories, report.outbox_rows, report.notices) == (2, 1, 0)
    left = {s.key for s in await store.recent_stories(T0 - hours(1))}
    assert left == {"listed", "pending", "fresh"}
    assert await store.outbox_pending() == 1
    assert await store.known_story_keys([make_story("listed")]) == {"listed"}
    again = await store.prune(stories_before=later - hours(24 * 30), sent_before=later)
    assert (again.stories, again.outbox_rows) == (0, 0)


async def test_a_listing_refreshes_last_seen_at_most_daily(store: SqlStore) -> None:
    story = make_story("s", fetched_at=T0, published=T0, feed_id=None)
    await store.save_stories([NewStory(story, None)])
    same_url = replace(make_story("other-key"), canonical_url=story.canonical_url)
    assert await store.known_story_keys([same_url], seen_at=T0 + hours(48)) == {"other-key"}
    await store.known_story_keys([same_url], seen_at=T0 + hours(60))  # within a day: no write
    kept = await store.prune(stories_before=T0 + hours(47), sent_before=T0)
    assert kept.stories == 0  # listed (through its canonical URL) at T0 + 48 h
    gone = await store.prune(stories_before=T0 + hours(49), sent_before=T0)
    assert gone.stories == 1  # and not since


async def test_sent_notices_are_pruned_with_sent_alerts(store: SqlStore) -> None:
    await store.queue_notices([(ADMIN, "one"), (ADMIN, "two")], T0)
    first, _ = await store.claim_notices(T0, limit=10, owner="x", lease_seconds=60)
    await store.mark_notice_sent(first.id, at=T0)
    report = await store.prune(stories_before=T0, sent_before=T0 + hours(1))
    assert report.notices == 1
    [pending] = await store.claim_notices(T0 + hours(2), limit=10, owner="x", lease_seconds=60)
    assert pending.text == "two"


async def test_a_feed_silent_longer_than_the_retention_keeps_its_last_listing(
    store: SqlStore,
) -> None:
    feed = await store.add_feed("https://a.example/rss", "a")
    day = hours(24)
    stories = [
        make_story("dropped", feed_id=feed.id, fetched_at=T0, published=T0),
        make_story("listed", feed_id=feed.id, fetched_at=T0, published=T0),
        make_story("last", feed_id=feed.id, fetched_at=T0 + day * 10, published=T0 + day * 10),
    ]
    await store.save_stories([NewStory(s, None) for s in stories])
    await store.known_story_keys([stories[1]], seen_at=T0 + day * 10)  # its last listing
    # then the feed fails (or answers 304) for 60 days: nothing is listed or fetched
    report = await store.prune(stories_before=T0 + day * 70 - day * 30, sent_before=T0)
    assert report.stories == 1
    left = {s.key for s in await store.recent_stories(T0 - day)}
    assert left == {"listed", "last"}
