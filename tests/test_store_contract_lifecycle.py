"""Store contract, part 6: the alert lifecycle — follow-ups, holds, digests, routing
state, clusters — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from bot.core.model import ALL_RULES, Delivery, Hold, OutboxItem, OutboxJob, Recipient, Rule
from bot.store import NewStory, SqlStore
from tests.conftest import StoreTarget
from tests.store_samples import T0, chat, hours, make_alert, make_story, new_story

NOW = T0 + hours(1)


async def claim(store: SqlStore, at: datetime = NOW, gap: float = 0.0) -> list[OutboxItem]:
    return await store.claim_outbox(
        at, limit=10, owner="test", lease_seconds=60, edit_gap_seconds=gap
    )


def twin(key: str, root: str, publisher: str, *, urgent: bool = False) -> NewStory:
    """Another outlet's report of `root`'s story."""
    story = make_story(key, publisher=publisher, url=f"https://{publisher}/{key}")
    return NewStory(story, None, cluster_key=root, urgent_cluster=urgent)


def held(key: str, until: datetime, hold: Hold, *destinations: str, **changes: Any) -> NewStory:
    story = make_story(key, **changes)
    deliveries = tuple(Delivery(chat(d), until, hold) for d in destinations)
    return NewStory(story, make_alert(story), held=deliveries)


# ── follow-ups ─────────────────────────────────────────────────────────────


async def test_a_twin_before_sending_is_shown_in_the_first_post(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1")), twin("b", "a", "agency.example")])
    [item] = await claim(store)
    assert item.job is OutboxJob.SEND and item.alert is not None
    assert [s.publisher for s in item.alert.sources] == ["agency.example"]
    await store.mark_sent(item.id, message_id="m1", at=NOW, shown_sources=1)
    assert await claim(store) == []  # nothing left to edit


async def test_a_twin_after_sending_asks_for_one_edit(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1"), chat("2"))])
    for item in await claim(store):
        await store.mark_sent(item.id, message_id=f"m{item.destination.chat_id}", at=NOW)
    await store.save_stories(
        [
            twin("b", "a", "agency.example"),
            twin("c", "a", "agency.example"),  # the same outlet again: named once
            twin("d", "a", "news.example"),  # the alert's own outlet: never named
        ]
    )
    edits = await claim(store, NOW + hours(0.1))
    assert sorted(e.message_id or "" for e in edits) == ["m1", "m2"]
    assert all(e.job is OutboxJob.EDIT for e in edits)
    assert all([s.publisher for s in e.new_sources] == ["agency.example"] for e in edits)
    for edit in edits:
        await store.mark_edited(edit.id, shown_sources=1, at=NOW + hours(0.1))
    assert await claim(store, NOW + hours(1)) == []


async def test_edits_keep_a_gap_and_the_buttons_answer(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1"))])
    [item] = await claim(store)
    await store.mark_sent(item.id, message_id="42", at=NOW)
    await store.record_outcome(chat("1"), "42", "ana muted drone_strike here")
    await store.save_stories([twin("b", "a", "one.example")])
    [edit] = await claim(store, NOW, gap=60)
    assert edit.outcome == "ana muted drone_strike here"
    await store.save_stories([twin("c", "a", "two.example")])  # arrives during the edit
    await store.mark_edited(edit.id, shown_sources=1, at=NOW)
    assert await claim(store, NOW + hours(30 / 3600), gap=60) == []
    [again] = await claim(store, NOW + hours(61 / 3600), gap=60)
    assert [s.publisher for s in again.new_sources] == ["two.example"]


async def test_a_failed_edit_is_retried_or_given_up_and_the_alert_stays_sent(
    store: SqlStore,
) -> None:
    await store.save_stories([new_story("a", chat("1"))])
    [item] = await claim(store)
    await store.mark_sent(item.id, message_id="42", at=NOW)
    await store.save_stories([twin("b", "a", "one.example")])
    [edit] = await claim(store)
    await store.mark_edit_failed(edit.id, error="flood", retry_at=NOW + hours(1), at=NOW)
    assert await claim(store, NOW + hours(0.5)) == []
    [edit] = await claim(store, NOW + hours(1))
    assert edit.attempts == 1
    await store.mark_edit_failed(edit.id, error="message can't be edited", retry_at=None, at=NOW)
    assert await claim(store, NOW + hours(5)) == [] and await store.dead_letters() == []


async def test_urgency_releases_quiet_and_digest_holds_but_not_a_mute(store: SqlStore) -> None:
    later = NOW + hours(8)
    story = make_story("a")
    deliveries = (
        Delivery(chat("quiet"), later, Hold.QUIET),
        Delivery(chat("digest"), later, Hold.DIGEST),
        Delivery(chat("muted"), later, Hold.MUTE),
    )
    await store.save_stories([NewStory(story, make_alert(story), held=deliveries)])
    assert await claim(store) == []
    await store.save_stories([twin("b", "a", "one.example", urgent=True)])
    items = await claim(store)
    assert sorted(i.destination.chat_id for i in items) == ["digest", "quiet"]
    assert all(i.alert is not None and i.alert.urgent for i in items)
    [muted] = await store.held_summary(chat("muted"))
    assert (muted.hold, muted.count) == (Hold.MUTE, 1)


async def test_twins_of_several_clusters_in_one_save_apply_in_order(store: SqlStore) -> None:
    later = NOW + hours(8)
    await store.save_stories(
        [held("a", later, Hold.QUIET, "quiet"), new_story("x", chat("1")), new_story("y")]
    )
    [sent] = await claim(store)
    await store.mark_sent(sent.id, message_id="m1", at=NOW)
    await store.save_stories(
        [
            twin("b", "a", "one.example"),  # named on the held row, which stays held
            twin("c", "x", "one.example"),  # the sent alert of another cluster: one edit
            twin("d", "a", "two.example", urgent=True),  # sees b's name; releases the hold
            twin("e", "y", "one.example"),  # a cluster without alert rows
            twin("f", "x", "two.example"),
        ]
    )
    items = await claim(store)
    assert sorted(i.job.value for i in items) == sorted(
        [OutboxJob.SEND.value, OutboxJob.EDIT.value]
    )
    released = next(i for i in items if i.job is OutboxJob.SEND)
    assert released.destination == chat("quiet") and released.alert is not None
    assert released.alert.urgent
    assert [s.publisher for s in released.alert.sources] == ["one.example", "two.example"]
    edit = next(i for i in items if i.job is OutboxJob.EDIT)
    assert [s.publisher for s in edit.new_sources] == ["one.example", "two.example"]


# ── holds and digests ──────────────────────────────────────────────────────


async def test_held_alerts_become_one_digest_each_story_once(store: SqlStore) -> None:
    until = NOW + hours(2)
    await store.save_stories(
        [
            held("b", until, Hold.MUTE, "1", "2"),
            held("a", until, Hold.DIGEST, "1", published=T0 - hours(1)),
        ]
    )
    await store.save_stories([twin("c", "b", "wire.example")])
    assert await store.due_holds(until - hours(0.1)) == []
    groups = {g.destination.chat_id: g for g in await store.due_holds(until)}
    assert sorted(groups) == ["1", "2"] and len(groups["1"].ids) == 2
    assert await store.release_holds(chat("1"), groups["1"].ids, until) == 1
    assert await store.release_holds(chat("1"), groups["1"].ids, until) == 0  # taken already
    [digest] = [i for i in await claim(store, until) if i.destination == chat("1")]
    assert digest.job is OutboxJob.DIGEST and digest.digest is not None
    assert [a.story.key for a in digest.digest.alerts] == ["a", "b"]  # by publication time
    assert set(digest.digest.holds) == {Hold.MUTE, Hold.DIGEST}
    assert [s.publisher for s in digest.digest.alerts[1].sources] == ["wire.example"]
    await store.mark_digest_part(digest.id, parts_sent=1, message_id="d1", at=until)
    [again] = await claim(store, until + hours(1))  # the lease expired: goes on from part 2
    assert again.id == digest.id and again.parts_sent == 1
    await store.mark_sent(again.id, message_id=None, at=until)
    assert await store.held_summary(chat("1")) == []


async def test_two_instances_release_each_hold_once(store_target: StoreTarget) -> None:
    first, second = await store_target.open(), await store_target.open()
    try:
        until = NOW + hours(1)
        await first.save_stories([held(f"s{n}", until, Hold.QUIET, "1") for n in range(20)])
        [group] = await first.due_holds(until)
        results = await asyncio.gather(
            first.release_holds(chat("1"), group.ids, until),
            second.release_holds(chat("1"), group.ids, until),
        )
        assert sorted(results) == [0, 1]
        [digest] = await claim(first, until)
        assert digest.digest is not None and len(digest.digest.alerts) == 20
    finally:
        await first.close()
        await second.close()


async def test_postponed_holds_wait_for_the_new_time(store: SqlStore) -> None:
    await store.save_stories([held("a", NOW, Hold.MUTE, "1")])
    [group] = await store.due_holds(NOW)
    await store.postpone_holds(group.ids, NOW + hours(3), Hold.QUIET)
    assert await store.due_holds(NOW + hours(2)) == []
    [summary] = await store.held_summary(chat("1"))
    assert (summary.hold, summary.release_at) == (Hold.QUIET, NOW + hours(3))


async def test_mute_and_quiet_changes_move_what_they_hold(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["drone_strike"], actor="t")
    await store.save_stories(
        [held("a", NOW + hours(2), Hold.MUTE, "1"), held("b", NOW + hours(5), Hold.QUIET, "1")]
    )
    await store.mute(chat("1"), NOW + hours(4))
    assert {h.hold: h.release_at for h in await store.held_summary(chat("1"))}[Hold.MUTE] == (
        NOW + hours(4)
    )
    await store.mute(chat("1"), None)  # unmute: what the mute held is due now
    await store.set_quiet_hours(chat("1"), None)
    due = await store.due_holds(datetime.now(tz=NOW.tzinfo))
    assert len(due) == 1 and len(due[0].ids) == 2


async def test_unsubscribing_everything_drops_held_alerts(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["drone_strike", "aid_package"], actor="t")
    await store.save_stories([held("a", NOW + hours(2), Hold.DIGEST, "1")])
    await store.unsubscribe(chat("1"), ["drone_strike"])
    assert len(await store.held_summary(chat("1"))) == 1
    await store.unsubscribe(chat("1"), [ALL_RULES])
    assert await store.held_summary(chat("1")) == []


# ── routing state ──────────────────────────────────────────────────────────


async def test_recipients_carry_schedules_mutes_and_quiet_hours(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["drone_strike"], actor="t")
    await store.subscribe(chat("1"), ["aid_package"], actor="t", digest="daily 08:00 Europe/Kyiv")
    await store.set_quiet_hours(chat("1"), "22:00-07:00 Europe/Kyiv")
    await store.mute(chat("1"), NOW + hours(2), discard=True)
    await store.mute_rule(chat("1"), "drone_strike", NOW + hours(24))
    await store.subscribe(chat("2"), [ALL_RULES], actor="t")
    await store.subscribe(chat("3"), ["accusation_us"], actor="t")
    found = {
        r.destination.chat_id: r
        for r in await store.recipients_for(["drone_strike", "aid_package"], NOW)
    }
    assert sorted(found) == ["1", "2"]
    assert found["1"] == Recipient(
        destination=chat("1"),
        schedules=(("drone_strike", None), ("aid_package", "daily 08:00 Europe/Kyiv")),
        muted_until=NOW + hours(2),
        mute_discards=True,
        rule_mutes=(("drone_strike", NOW + hours(24)),),
        quiet_hours="22:00-07:00 Europe/Kyiv",
    )
    assert found["2"].schedules == ((ALL_RULES, None),) and found["2"].muted_until is None
    after = {
        r.destination.chat_id: r
        for r in await store.recipients_for(["aid_package"], NOW + hours(3))
    }
    assert after["1"].muted_until is None and not after["1"].mute_discards


async def test_a_new_subscription_inherits_quiet_hours_and_a_schedule_changes(
    store: SqlStore,
) -> None:
    await store.subscribe(chat("1"), ["drone_strike"], actor="t")
    await store.set_quiet_hours(chat("1"), "23:00-06:00 UTC")
    assert await store.subscribe(chat("1"), ["aid_package"], actor="t", digest="hourly") == [
        "aid_package"
    ]
    assert await store.subscribe(chat("1"), ["drone_strike"], actor="t", digest="hourly") == []
    subs = {s.rule: s for s in await store.subscriptions(chat("1"))}
    assert {rule: s.digest for rule, s in subs.items()} == {
        "drone_strike": "hourly",
        "aid_package": "hourly",
    }
    assert all(s.quiet_hours == "23:00-06:00 UTC" for s in subs.values())


async def test_an_urgent_rule_is_stored(store: SqlStore) -> None:
    await store.save_rule(Rule("flash", "flash", urgent=True), actor="t", at=NOW)
    [rule] = await store.list_rules()
    assert rule.urgent


# ── clusters ───────────────────────────────────────────────────────────────


async def test_story_clusters_gather_every_report(store: SqlStore) -> None:
    await store.save_stories([new_story("a", chat("1"))])
    await store.save_stories([twin("b", "a", "one.example"), twin("c", "a", "two.example")])
    clusters = await store.story_clusters({"a", "c", "unknown"})
    assert set(clusters) == {"a", "c"}
    assert clusters["c"].root == clusters["a"].root == "a"
    assert sorted(p for p, _ in clusters["a"].reports) == [
        "news.example",
        "one.example",
        "two.example",
    ]
