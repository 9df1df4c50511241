"""Store contract, part 1: feeds, rules and audit, subscriptions, meta.

Every test runs on SQLite and (when configured) PostgreSQL; see conftest.py.
Stories and the outbox are in test_store_contract_stories.py and
test_store_contract_outbox.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import DuplicateError, NotFoundError, StoreError
from bot.core.model import ALL_RULES, Change, FeedState, Rule, Topic
from bot.store import SqlStore
from tests.conftest import StoreTarget
from tests.store_samples import T0, chat, hours, new_story

# ── feeds ──────────────────────────────────────────────────────────────────


async def test_add_feed_lists_it_with_fresh_state(store: SqlStore) -> None:
    feed = await store.add_feed("https://a.example/rss", "A", backfill=3)
    [health] = await store.list_feeds()
    assert health.feed == feed
    assert (feed.url, feed.name, feed.enabled, feed.backfill) == (
        "https://a.example/rss",
        "A",
        True,
        3,
    )
    assert health.state == FeedState()


async def test_add_feed_twice_is_a_duplicate(store: SqlStore) -> None:
    await store.add_feed("https://a.example/rss", "A")
    with pytest.raises(DuplicateError, match="already in the feed list"):
        await store.add_feed("https://a.example/rss", "Another name")


@pytest.mark.parametrize("handle", ["https://b.example/rss", "B", "id"])
async def test_remove_feed_by_url_name_or_id(store: SqlStore, handle: str) -> None:
    await store.add_feed("https://a.example/rss", "A")
    b = await store.add_feed("https://b.example/rss", "B")
    removed = await store.remove_feed(str(b.id) if handle == "id" else handle)
    assert removed == b
    assert [h.feed.name for h in await store.list_feeds()] == ["A"]


async def test_remove_unknown_or_ambiguous_feed(store: SqlStore) -> None:
    await store.add_feed("https://a.example/rss", "Same")
    await store.add_feed("https://b.example/rss", "Same")
    with pytest.raises(NotFoundError, match="nope"):
        await store.remove_feed("nope")
    with pytest.raises(StoreError, match="2 feeds match 'Same'"):
        await store.remove_feed("Same")


async def test_removing_a_feed_keeps_its_stories(store: SqlStore) -> None:
    feed = await store.add_feed("https://a.example/rss", "A")
    await store.save_stories([new_story("s1", feed_id=feed.id)])
    await store.remove_feed("A")
    [story] = await store.recent_stories(T0 - hours(1))
    assert story.key == "s1" and story.feed_id is None


async def test_new_feeds_are_due_and_claims_are_leased(store: SqlStore) -> None:
    a = await store.add_feed("https://a.example/rss", "A")
    b = await store.add_feed("https://b.example/rss", "B")
    first = await store.claim_due_feeds(T0, limit=10, owner="one", lease_seconds=60)
    assert [d.feed for d in first] == [a, b]
    assert await store.claim_due_feeds(T0, limit=10, owner="two", lease_seconds=60) == []
    before_expiry = T0 + hours(1 / 60) - hours(1 / 3600)
    assert await store.claim_due_feeds(before_expiry, limit=10, owner="two", lease_seconds=60) == []
    after_expiry = T0 + hours(1 / 60)
    again = await store.claim_due_feeds(after_expiry, limit=10, owner="two", lease_seconds=60)
    assert [d.feed for d in again] == [a, b]


async def test_claim_respects_limit_and_most_overdue_first(store: SqlStore) -> None:
    a = await store.add_feed("https://a.example/rss", "A")
    b = await store.add_feed("https://b.example/rss", "B")
    c = await store.add_feed("https://c.example/rss", "C")
    await store.save_feed_state(a.id, FeedState(next_poll_at=T0 - hours(1)))
    await store.save_feed_state(b.id, FeedState(next_poll_at=T0 - hours(2)))
    await store.save_feed_state(c.id, FeedState(next_poll_at=T0 + hours(1)))
    claimed = await store.claim_due_feeds(T0, limit=1, owner="x", lease_seconds=60)
    assert [d.feed for d in claimed] == [b]
    rest = await store.claim_due_feeds(T0, limit=10, owner="x", lease_seconds=60)
    assert [d.feed for d in rest] == [a]
    assert await store.claim_due_feeds(T0, limit=0, owner="x", lease_seconds=60) == []


async def test_next_check_at_is_the_earliest_unleased_due_time(store: SqlStore) -> None:
    assert await store.next_check_at(T0) is None  # no feeds: nothing to wake for
    a = await store.add_feed("https://a.example/rss", "A")
    assert await store.next_check_at(T0) == T0  # never checked: due at once
    b = await store.add_feed("https://b.example/rss", "B")
    await store.save_feed_state(a.id, FeedState(next_poll_at=T0 + hours(2)))
    await store.save_feed_state(b.id, FeedState(next_poll_at=T0 + hours(1)))
    assert await store.next_check_at(T0) == T0 + hours(1)
    await store.save_feed_state(b.id, FeedState(next_poll_at=T0 - hours(1)))
    assert await store.next_check_at(T0) == T0  # overdue: now, never in the past
    [claimed] = await store.claim_due_feeds(T0, limit=5, owner="x", lease_seconds=60)
    assert claimed.feed == b
    assert await store.next_check_at(T0) == T0 + hours(2)  # b is leased: a is next
    assert await store.next_check_at(T0 + hours(0.5)) == T0 + hours(0.5)  # b's lease ended


async def test_save_feed_state_round_trips_and_releases_the_lease(store: SqlStore) -> None:
    feed = await store.add_feed("https://a.example/rss", "A")
    await store.claim_due_feeds(T0, limit=1, owner="x", lease_seconds=3600)
    state = FeedState(
        etag='W/"abc"',
        last_modified="Sat, 01 Mar 2025 11:00:00 GMT",
        interval_seconds=912.5,
        next_poll_at=T0,
        last_fetch_at=T0 - hours(0.25),
        last_success_at=T0 - hours(0.25),
        last_status=200,
        last_error=None,
        error_count=0,
        primed=True,
        item_times=(T0 - hours(3), T0 - hours(1.5), T0 - hours(0.5)),
    )
    await store.save_feed_state(feed.id, state)
    [health] = await store.list_feeds()
    assert health.state == state
    [due] = await store.claim_due_feeds(T0, limit=1, owner="y", lease_seconds=60)
    assert due.state == state


async def test_save_state_of_unknown_feed(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match="no feed with id 999"):
        await store.save_feed_state(999, FeedState())


async def test_concurrent_feed_claims_never_overlap(store_target: StoreTarget) -> None:
    first, second = await store_target.open(), await store_target.open(migrate=False)
    try:
        for n in range(60):
            await first.add_feed(f"https://{n}.example/rss", f"feed {n}")
        claims = await asyncio.gather(
            *(
                s.claim_due_feeds(T0, limit=7, owner=f"{name}-{i}", lease_seconds=600)
                for i in range(6)
                for name, s in (("first", first), ("second", second))
            )
        )
        ids = [d.feed.id for claim in claims for d in claim]
        assert len(ids) == len(set(ids)) == 60
    finally:
        await first.close()
        await second.close()


# ── rules and audit ────────────────────────────────────────────────────────

DRONES = Rule(
    name="drone_strike",
    query='drone AND (strike OR attack) NOT "drone show"',
    description="Drone strikes anywhere",
    topic=Topic("a drone attack", positives=("drones hit a depot",), negatives=("a drone show",)),
)


async def test_saved_rules_are_listed_by_name(store: SqlStore) -> None:
    aid = Rule(name="aid_package", query="aid AND package", enabled=False)
    await store.save_rule(DRONES, actor="admin:1", at=T0)
    await store.save_rule(aid, actor="admin:1", at=T0)
    assert await store.list_rules() == [aid, DRONES]


async def test_rule_edits_are_audited_newest_first(store: SqlStore) -> None:
    edited = replace(DRONES, query="drone", topic=None)
    await store.save_rule(DRONES, actor="admin:1", at=T0)
    await store.save_rule(edited, actor="admin:2", at=T0 + hours(1))
    await store.delete_rule("drone_strike", actor="admin:3", at=T0 + hours(2))
    history = await store.history("rule", "drone_strike")
    assert [(c.action, c.actor, c.at) for c in history] == [
        ("remove", "admin:3", T0 + hours(2)),
        ("edit", "admin:2", T0 + hours(1)),
        ("add", "admin:1", T0),
    ]
    assert history[2].before is None and history[2].after is not None
    assert history[2].after["topic"] == {
        "intent": "a drone attack",
        "positives": ["drones hit a depot"],
        "negatives": ["a drone show"],
        "threshold": 0.5,
    }
    assert history[1].before == history[2].after
    assert history[1].after is not None and history[1].after["query"] == "drone"
    assert history[0].before == history[1].after and history[0].after is None
    assert len(await store.history("rule", "drone_strike", limit=2)) == 2


async def test_deleting_a_yaml_only_rule_leaves_a_tombstone(store: SqlStore) -> None:
    await store.delete_rule("accusation_us", actor="admin:1", at=T0)
    assert await store.deleted_rule_names() == {"accusation_us"}
    assert await store.list_rules() == []
    [change] = await store.history("rule", "accusation_us")
    assert (change.action, change.before, change.after) == ("remove", None, None)
    with pytest.raises(NotFoundError, match="already deleted"):
        await store.delete_rule("accusation_us", actor="admin:1", at=T0)


async def test_saving_a_deleted_rule_restores_it(store: SqlStore) -> None:
    await store.save_rule(DRONES, actor="admin:1", at=T0)
    await store.delete_rule(DRONES.name, actor="admin:1", at=T0 + hours(1))
    assert await store.list_rules() == []
    await store.save_rule(DRONES, actor="admin:1", at=T0 + hours(2))
    assert await store.list_rules() == [DRONES]
    assert await store.deleted_rule_names() == set()
    assert (await store.history("rule", DRONES.name))[0].action == "add"


async def test_recorded_changes_are_kept_per_kind_and_name(store: SqlStore) -> None:
    change = Change(
        kind="feed",
        name="https://a.example/rss",
        action="add",
        actor="cli",
        at=datetime(2025, 3, 1, 13, 30, 15, 123456, tzinfo=UTC),
        after={"name": "A", "backfill": 2},
    )
    await store.record_change(change)
    assert await store.history("feed", "https://a.example/rss") == [change]
    assert await store.history("rule", "https://a.example/rss") == []


# ── subscriptions ──────────────────────────────────────────────────────────


async def test_subscribe_returns_only_new_names(store: SqlStore) -> None:
    here = chat("-100")
    assert await store.subscribe(here, ["a", "b", "a"], actor="u1") == ["a", "b"]
    assert await store.subscribe(here, ["b", "c"], actor="u2") == ["c"]
    assert await store.subscribe(here, [], actor="u2") == []
    subs = await store.subscriptions(here)
    assert [(s.rule, s.created_by) for s in subs] == [("a", "u1"), ("b", "u1"), ("c", "u2")]
    with pytest.raises(StoreError, match="rule name is empty"):
        await store.subscribe(here, [" "], actor="u1")


async def test_unsubscribe_some_or_all(store: SqlStore) -> None:
    here, there = chat("1"), chat("C1", "slack")
    await store.subscribe(here, ["a", "b", ALL_RULES], actor="u")
    await store.subscribe(there, ["a"], actor="u")
    assert await store.unsubscribe(here, ["b", "zzz"]) == ["b"]
    assert await store.unsubscribe(here, [ALL_RULES]) == ["a", ALL_RULES]
    assert await store.subscriptions(here) == []
    assert [s.destination for s in await store.subscriptions()] == [there]


async def test_destinations_for_rules_and_all_rules(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["a", "b"], actor="u")
    await store.subscribe(chat("2"), [ALL_RULES], actor="u")
    await store.subscribe(chat("C9", "slack"), ["c"], actor="u")
    assert await store.destinations_for(["a", "b"], T0) == [chat("1"), chat("2")]
    assert await store.destinations_for(["c"], T0) == [chat("C9", "slack"), chat("2")]
    assert await store.destinations_for(["zzz"], T0) == [chat("2")]
    assert await store.destinations_for([], T0) == []


async def test_muted_destinations_get_nothing_until_the_mute_ends(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["a", "b"], actor="u")
    await store.mute(chat("1"), T0 + hours(2))
    assert await store.destinations_for(["a"], T0 + hours(1)) == []
    assert await store.destinations_for(["a"], T0 + hours(2)) == [chat("1")]
    await store.subscribe(chat("1"), ["c"], actor="u")
    assert {s.muted_until for s in await store.subscriptions(chat("1"))} == {T0 + hours(2)}
    await store.mute(chat("1"), None)
    assert await store.destinations_for(["c"], T0) == [chat("1")]


async def test_paused_destinations_get_nothing_until_resumed(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["a"], actor="u")
    await store.subscribe(chat("2"), ["a"], actor="u")
    await store.pause_destination(chat("1"), "Forbidden: bot was blocked by the user")
    assert await store.destinations_for(["a"], T0) == [chat("2")]
    [sub] = await store.subscriptions(chat("1"))
    assert sub.paused_reason == "Forbidden: bot was blocked by the user"
    await store.pause_destination(chat("1"), None)
    assert await store.destinations_for(["a"], T0) == [chat("1"), chat("2")]


async def test_migrate_destination_moves_subscriptions_and_pending_rows(store: SqlStore) -> None:
    old, new = chat("-100"), chat("-1001234")
    await store.subscribe(old, ["a", "b"], actor="u")
    await store.subscribe(new, ["b"], actor="u")
    await store.mute_rule(old, "a", T0 + hours(24))
    await store.save_stories([new_story("s1", old), new_story("s2", old, new)])
    [first] = await store.claim_outbox(T0 + hours(1), limit=1, owner="x", lease_seconds=1)
    await store.mark_sent(first.id, message_id="m1", at=T0 + hours(1))
    await store.migrate_destination(old, new)
    assert await store.subscriptions(old) == []
    assert sorted(s.rule for s in await store.subscriptions(new)) == ["a", "b"]
    assert await store.muted_rules(new, T0) == {"a": T0 + hours(24)}
    assert await store.muted_rules(old, T0) == {}
    assert await store.sent_message_id("s1", old) == "m1"
    assert await store.outbox_pending() == 1
    [moved] = await store.claim_outbox(T0 + hours(2), limit=5, owner="x", lease_seconds=1)
    assert (moved.destination, moved.alert.story.key) == (new, "s2")


# ── meta ───────────────────────────────────────────────────────────────────


async def test_meta_set_get_and_replace(store: SqlStore) -> None:
    assert await store.get_meta("last_poll") is None
    await store.set_meta("last_poll", "2025-03-01T12:00:00+00:00")
    await store.set_meta("last_poll", "2025-03-01T12:05:00+00:00")
    assert await store.get_meta("last_poll") == "2025-03-01T12:05:00+00:00"


async def test_naive_times_are_refused_with_one_clear_line(store: SqlStore) -> None:
    await store.add_feed("https://a.example/rss", "A")
    with pytest.raises(StoreError) as caught:
        await store.claim_due_feeds(datetime(2025, 3, 1), limit=1, owner="x", lease_seconds=1)
    assert "pass timezone-aware UTC times" in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_save_feed_states_releases_leases_in_one_call(store: SqlStore) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    first = await store.add_feed("https://a.example/rss", "a")
    second = await store.add_feed("https://b.example/rss", "b")
    claimed = await store.claim_due_feeds(now, limit=10, owner="x", lease_seconds=60)
    assert {due.feed.id for due in claimed} == {first.id, second.id}
    later = now + timedelta(minutes=5)
    await store.save_feed_states(
        {
            first.id: FeedState(etag='"a1"', next_poll_at=later, last_status=200),
            second.id: FeedState(error_count=2, last_error="boom", next_poll_at=later),
        }
    )
    states = {health.feed.name: health.state for health in await store.list_feeds()}
    assert states["a"].etag == '"a1"' and states["a"].last_status == 200
    assert states["b"].error_count == 2 and states["b"].last_error == "boom"
    # leases released: due again once next_poll_at passes
    again = await store.claim_due_feeds(later, limit=10, owner="y", lease_seconds=60)
    assert len(again) == 2
