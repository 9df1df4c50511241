"""Store contract: a story by the start of its key (`find_story_by_key_prefix`)."""

from __future__ import annotations

import pytest

from bot.store import SqlStore
from bot.store.lookup import prefix_successor
from tests.store_samples import T0, hours, new_story

KEY = "3f9a0c1d2e4b5a6c7d8e"
"""A story key as newswatch makes them: 20 hex characters."""


async def test_the_buttons_prefix_finds_its_story_however_old(store: SqlStore) -> None:
    old = new_story(KEY, published=T0 - hours(24 * 400), fetched_at=T0 - hours(24 * 400))
    await store.save_stories([old, new_story("3f9a0c1d2e4c0000aaaa")])
    found = await store.find_story_by_key_prefix(KEY[:12])
    assert found == old.story
    assert await store.find_story_by_key_prefix(KEY) == old.story


async def test_no_or_several_matches_give_none(store: SqlStore) -> None:
    await store.save_stories([new_story("ab12cd0000"), new_story("ab12ce0000")])
    assert await store.find_story_by_key_prefix("ab12c") is None  # both
    assert await store.find_story_by_key_prefix("ab13") is None
    assert await store.find_story_by_key_prefix("") is None
    found = await store.find_story_by_key_prefix("ab12ce")
    assert found is not None and found.key == "ab12ce0000"


@pytest.mark.parametrize(
    "prefix", ["AB12", "ab1_", "ab1%", "a", "ab12cd0000x", "ab12cd000\U0010ffff"]
)
async def test_the_prefix_is_literal_and_case_sensitive(store: SqlStore, prefix: str) -> None:
    await store.save_stories([new_story("ab12cd0000"), new_story("b")])
    found = await store.find_story_by_key_prefix(prefix)
    assert (found.key if found else None) == ("ab12cd0000" if prefix == "a" else None)


async def test_keys_past_the_prefix_range_are_not_matched(store: SqlStore) -> None:
    keys = ["az", "a\U0010ffff", "b", "a\ud7ff", "a\ue000"]
    await store.save_stories([new_story(key) for key in keys])
    for prefix in keys:
        found = await store.find_story_by_key_prefix(prefix)
        assert found is not None and found.key == prefix, repr(prefix)


@pytest.mark.parametrize(
    ("prefix", "successor"),
    [
        ("abc", "abd"),
        ("ab9", "ab:"),
        ("a\U0010ffff", "b"),
        ("\U0010ffff", None),
        ("", None),
        ("a\ud7ff", "a\ue000"),
    ],
)
def test_prefix_successor(prefix: str, successor: str | None) -> None:
    assert prefix_successor(prefix) == successor
