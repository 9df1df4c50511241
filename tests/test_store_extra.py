"""Contract tests for the store methods the chat commands added: per-rule
mutes (the "Mute rule 24 h" button) and looking a story up by key."""

from __future__ import annotations

import pytest

from bot.core.errors import StoreError
from bot.core.model import ALL_RULES
from bot.store import SqlStore
from tests.store_samples import T0, chat, hours, new_story


async def test_a_muted_rule_is_left_out_until_the_mute_ends(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["a", "b"], actor="u")
    await store.mute_rule(chat("1"), "a", T0 + hours(24))
    assert await store.destinations_for(["a"], T0) == []
    assert await store.destinations_for(["a", "b"], T0) == [chat("1")]
    assert await store.destinations_for(["b"], T0) == [chat("1")]
    assert await store.destinations_for(["a"], T0 + hours(24)) == [chat("1")]


async def test_a_muted_rule_is_left_out_of_an_all_rules_subscription(store: SqlStore) -> None:
    await store.subscribe(chat("1"), [ALL_RULES], actor="u")
    await store.subscribe(chat("2"), [ALL_RULES], actor="u")
    await store.mute_rule(chat("1"), "a", T0 + hours(24))
    assert await store.destinations_for(["a"], T0) == [chat("2")]
    assert await store.destinations_for(["a", "b"], T0) == [chat("1"), chat("2")]


async def test_rule_mutes_belong_to_one_destination(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["a"], actor="u")
    await store.subscribe(chat("1", "slack"), ["a"], actor="u")
    await store.mute_rule(chat("1"), "a", T0 + hours(1))
    assert await store.destinations_for(["a"], T0) == [chat("1", "slack")]
    assert await store.muted_rules(chat("1", "slack"), T0) == {}


async def test_muted_rules_lists_mutes_in_force_and_a_new_mute_replaces_the_old(
    store: SqlStore,
) -> None:
    await store.mute_rule(chat("1"), "b", T0 + hours(1))
    await store.mute_rule(chat("1"), "a", T0 + hours(2))
    await store.mute_rule(chat("1"), "a", T0 + hours(3))
    assert await store.muted_rules(chat("1"), T0) == {"a": T0 + hours(3), "b": T0 + hours(1)}
    assert await store.muted_rules(chat("1"), T0 + hours(1)) == {"a": T0 + hours(3)}


async def test_unmuting_a_rule_removes_only_that_mute(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["a", "b"], actor="u")
    await store.mute_rule(chat("1"), "a", T0 + hours(1))
    await store.mute_rule(chat("1"), "b", T0 + hours(1))
    await store.mute_rule(chat("1"), "a", None)
    assert await store.muted_rules(chat("1"), T0) == {"b": T0 + hours(1)}
    assert await store.destinations_for(["a"], T0) == [chat("1")]


async def test_the_destination_mute_still_wins_over_rule_mutes(store: SqlStore) -> None:
    await store.subscribe(chat("1"), ["a", "b"], actor="u")
    await store.mute_rule(chat("1"), "a", T0 + hours(1))
    await store.mute(chat("1"), T0 + hours(2))
    assert await store.destinations_for(["b"], T0) == []
    assert [s.muted_until for s in await store.subscriptions(chat("1"))] == [T0 + hours(2)] * 2


@pytest.mark.parametrize("rule", ["", "  ", ALL_RULES])
async def test_mute_rule_needs_one_rule_name(store: SqlStore, rule: str) -> None:
    with pytest.raises(StoreError, match="name one rule"):
        await store.mute_rule(chat("1"), rule, T0 + hours(1))


async def test_get_story_by_key(store: SqlStore) -> None:
    item = new_story("s1", chat("1"))
    await store.save_stories([item])
    assert await store.get_story("s1") == item.story
    assert await store.get_story("unknown") is None
