"""Store contract, part 3: the outbox — claims, leases, per-chat order, retries, dead letters."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime

import pytest

from bot.core.errors import NotFoundError
from bot.core.model import Destination, OutboxItem
from bot.store import SqlStore
from tests.conftest import StoreTarget
from tests.store_samples import T0, chat, hours, make_alert, make_story, new_story

NOW = T0 + hours(1)


async def claim(store: SqlStore, at: datetime = NOW, limit: int = 10) -> list[OutboxItem]:
    """Claim with a 60 s lease as owner `test`."""
    return await store.claim_outbox(at, limit=limit, owner="test", lease_seconds=60)


def keys(items: list[OutboxItem]) -> list[tuple[str, str]]:
    """(chat id, story key) of each item, in order."""
    return [(i.destination.chat_id, i.alert.story.key) for i in items]


async def test_claimed_items_carry_the_alert_exactly(store: SqlStore) -> None:
    story = make_story("a", fingerprint=-12345)
    await store.save_stories([new_story("a", chat("1"), fingerprint=-12345)])
    [item] = await claim(store)
    assert item.alert == make_alert(story)
    assert (item.destination, item.attempts, item.last_error) == (chat("1"), 0, None)
    assert item.created_at == story.fetched_at


async def test_one_row_per_destination_oldest_first(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1"), chat("2")), new_story("b", chat("1"))])
    await store.save_stories([new_story("c", chat("2"), chat("3"))])
    assert keys(await claim(store)) == [("1", "a"), ("2", "a"), ("3", "c")]


async def test_next_row_of_a_chat_waits_until_the_previous_is_settled(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1")), new_story("b", chat("1"))])
    [first] = await claim(store)
    assert await claim(store) == []
    await store.mark_sent(first.id, message_id="101", at=NOW)
    assert keys(await claim(store)) == [("1", "b")]


async def test_a_lease_expires(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1"))])
    [first] = await claim(store)
    assert await claim(store, NOW + hours(59 / 3600)) == []
    [again] = await claim(store, NOW + hours(60 / 3600))
    assert again.id == first.id


async def test_rows_not_yet_due_are_not_claimed(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1"), fetched_at=NOW + hours(1))])
    assert await claim(store) == []
    assert len(await claim(store, NOW + hours(1))) == 1


async def test_retry_keeps_order_and_counts_attempts(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1")), new_story("b", chat("1"))])
    [first] = await claim(store)
    await store.mark_retry(
        first.id, error="502 Bad Gateway", next_attempt_at=NOW + hours(1), at=NOW
    )
    assert await claim(store) == []  # "b" must not overtake "a"
    [again] = await claim(store, NOW + hours(1))
    assert (again.id, again.attempts, again.last_error) == (first.id, 1, "502 Bad Gateway")
    assert await store.outbox_pending() == 2


async def test_dead_rows_are_listed_and_unblock_their_chat(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1")), new_story("b", chat("1"))])
    [first] = await claim(store)
    await store.mark_dead(first.id, error="400 Bad Request: message is too long", at=NOW)
    [dead] = await store.dead_letters()
    assert (dead.id, dead.destination, dead.story_title) == (first.id, chat("1"), "Title of a")
    assert (dead.error, dead.at) == ("400 Bad Request: message is too long", NOW)
    assert keys(await claim(store)) == [("1", "b")]
    assert await store.outbox_pending() == 1


async def test_dead_letters_newest_first_with_limit(store: SqlStore) -> None:
    await store.save_stories([new_story(k, chat(k)) for k in "abc"])
    for n, item in enumerate(await claim(store)):
        await store.mark_dead(item.id, error=f"e{n}", at=NOW + hours(n))
    assert [d.error for d in await store.dead_letters(limit=2)] == ["e2", "e1"]


async def test_paused_destinations_are_not_claimed(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["drone_strike"], actor="u")
    await store.save_stories([new_story("a", chat("1"), chat("2"))])
    await store.pause_destination(chat("1"), "Forbidden: bot was kicked")
    assert keys(await claim(store)) == [("2", "a")]
    await store.pause_destination(chat("1"), None)
    assert keys(await claim(store)) == [("1", "a")]


async def test_limit_and_zero_limit(store: SqlStore) -> None:
    await store.save_stories([new_story(k, chat(k)) for k in "abcd"])
    assert keys(await claim(store, limit=3)) == [("a", "a"), ("b", "b"), ("c", "c")]
    assert await claim(store, limit=0) == []


async def test_sent_message_id_per_story_and_destination(store: SqlStore) -> None:
    slack = Destination("slack", "C1")
    await store.save_stories([new_story("a", chat("1"), slack)])
    for item in await claim(store):
        await store.mark_sent(item.id, message_id=f"m-{item.destination.platform}", at=NOW)
    assert await store.sent_message_id("a", chat("1")) == "m-telegram"
    assert await store.sent_message_id("a", slack) == "m-slack"
    assert await store.sent_message_id("a", chat("2")) is None
    assert await store.sent_message_id("zzz", chat("1")) is None
    assert await store.outbox_pending() == 0


@pytest.mark.parametrize("mark", ["sent", "retry", "dead"])
async def test_marking_an_unknown_row(store: SqlStore, mark: str) -> None:
    with pytest.raises(NotFoundError, match="no outbox row with id 4242"):
        if mark == "sent":
            await store.mark_sent(4242, message_id=None, at=NOW)
        elif mark == "retry":
            await store.mark_retry(4242, error="x", next_attempt_at=NOW, at=NOW)
        else:
            await store.mark_dead(4242, error="x", at=NOW)


async def test_concurrent_instances_claim_each_row_once_in_chat_order(
    store_target: StoreTarget,
) -> None:
    """Two store instances (separate pools) deliver concurrently: no row is claimed
    twice, every row is claimed, and each chat sees its rows in order."""
    first, second = await store_target.open(), await store_target.open(migrate=False)
    chats = [chat(str(n)) for n in range(12)]
    await first.save_stories([new_story(f"s{n}", *chats[n % 4 :: 2]) for n in range(15)])
    expected = await first.outbox_pending()
    delivered: dict[Destination, list[int]] = defaultdict(list)

    async def worker(store: SqlStore, name: str) -> None:
        for _ in range(expected * 50):
            items = await store.claim_outbox(NOW, limit=3, owner=name, lease_seconds=600)
            if not items and await store.outbox_pending() == 0:
                return
            for item in items:
                delivered[item.destination].append(item.id)
                await store.mark_sent(item.id, message_id=name, at=NOW)
            await asyncio.sleep(0)
        raise AssertionError(f"worker {name} gave up with rows still pending")

    try:
        await asyncio.gather(*(worker(s, f"{i}") for i, s in enumerate([first, second] * 3)))
    finally:
        await first.close()
        await second.close()
    claimed = [row for rows in delivered.values() for row in rows]
    assert len(claimed) == len(set(claimed)) == expected > 0
    assert all(rows == sorted(rows) for rows in delivered.values())


async def test_alert_latencies_are_those_sent_at_once_since_a_time(store: SqlStore) -> None:
    # published T0, first seen T0 + 5 min (store_samples); sent at NOW = T0 + 1 h
    await store.save_stories([new_story("a", chat("1"), chat("2")), new_story("b", chat("3"))])
    items = await claim(store)
    assert len(items) == 3
    await store.mark_sent(items[0].id, message_id="1", at=NOW)
    await store.mark_sent(items[1].id, message_id="2", at=NOW + hours(2))
    # the third stays pending: not a latency yet
    assert await store.alert_latencies(NOW + hours(1)) == [(3.0 * 3600 - 300, 3.0 * 3600)]
    both = await store.alert_latencies(T0)
    assert sorted(both) == [(3600.0 - 300, 3600.0), (3.0 * 3600 - 300, 3.0 * 3600)]
    assert await store.alert_latencies(T0, limit=1) == [(3.0 * 3600 - 300, 3.0 * 3600)]
