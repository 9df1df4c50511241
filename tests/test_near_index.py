"""The near-duplicate index kept across polls, on every store backend.

Twins are found however many stories were stored since (the old lookup read
only the newest 5,000), whoever stored them (another instance on the same
database), whenever the index was built (a restart), and in whatever order
their ids committed; stories leave with the window; lookups are exactly
`group_near_duplicates` over the whole window.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from bot.core.model import Story
from bot.pipeline.dedupe.batch import group_near_duplicates
from bot.pipeline.dedupe.index import NearDuplicateIndex
from bot.pipeline.fetch.fetcher import Fetcher
from bot.pipeline.match import RuleBook
from bot.pipeline.poll import Pipeline, PollConfig, near_duplicates
from bot.store import NewStory, SqlStore
from bot.store.stories import story_values
from bot.store.tables import stories
from tests.conftest import StoreTarget
from tests.store_samples import make_story
from tests.test_dedupe import LABELLED, corpus_story

WINDOW = timedelta(hours=48)


def stored(title_start: str) -> Story:
    """A labelled corpus story, as the store can record it (no feed row)."""
    return replace(corpus_story(title_start), feed_id=None)


BBC = stored("England and Tottenham legend Greaves")  # 2021-09-19 09:50
DAILY_MAIL = stored("Tottenham and England legend Jimmy Greaves")  # 13:24
CNN = stored("Jimmy Greaves, England World Cup winner")  # 19:37
NOW = CNN.published + timedelta(hours=1)


def fillers(count: int, after: datetime) -> list[NewStory]:
    """`count` unrelated stories published one second apart from `after` on."""
    return [
        NewStory(make_story(f"filler-{n}", published=after + timedelta(seconds=n + 1)), None)
        for n in range(count)
    ]


@asynccontextmanager
async def pipeline_on(store: SqlStore) -> AsyncIterator[Pipeline]:
    """A pipeline on `store`; only its near-duplicate stage is used here."""
    async with httpx.AsyncClient() as client:
        yield Pipeline(
            store=store,
            fetcher=Fetcher(client),
            rulebook=RuleBook(Path("unused.yaml")),
            config=PollConfig(interval_seconds=60),
            clock=lambda: NOW,
        )


async def test_a_twin_stored_5000_stories_earlier_is_still_found(store: SqlStore) -> None:
    await store.save_stories([NewStory(BBC, None)])
    await store.save_stories(fillers(5001, after=BBC.published))
    async with pipeline_on(store) as pipeline:
        groups = await near_duplicates(pipeline, [CNN], set(), NOW)
    assert groups == {CNN.key: BBC.key}


async def test_a_story_saved_by_another_instance_is_found_at_the_next_batch(
    store_target: StoreTarget,
) -> None:
    ours, theirs = await store_target.open(), await store_target.open()
    try:
        async with pipeline_on(ours) as pipeline:
            assert await near_duplicates(pipeline, [DAILY_MAIL], set(), NOW) == {}
            await theirs.save_stories([NewStory(BBC, None)])
            assert await near_duplicates(pipeline, [CNN], set(), NOW) == {CNN.key: BBC.key}
            assert len(pipeline.near_index) == 1
    finally:
        await ours.close()
        await theirs.close()


async def test_a_new_index_finds_twins_stored_before_it(store: SqlStore) -> None:
    async with pipeline_on(store) as before_restart:
        assert await near_duplicates(before_restart, [BBC], set(), NOW) == {}
    await store.save_stories([NewStory(BBC, None)])
    async with pipeline_on(store) as after_restart:
        assert await near_duplicates(after_restart, [CNN], set(), NOW) == {CNN.key: BBC.key}


async def test_stories_leave_the_index_with_the_window(store: SqlStore) -> None:
    late = replace(DAILY_MAIL, fetched_at=BBC.published + timedelta(hours=30))
    await store.save_stories([NewStory(BBC, None), NewStory(late, None)])
    probe = replace(CNN, published=BBC.published + timedelta(hours=47))
    index = NearDuplicateIndex()
    await index.refresh(store, BBC.published - timedelta(hours=1))
    assert len(index) == 2
    assert index.group([probe]) == {probe.key: BBC.key}
    await index.refresh(store, BBC.published + timedelta(hours=1))
    assert len(index) == 1, "the late-fetched story stays: it was fetched within the window"
    assert index.group([probe]) == {probe.key: late.key}
    await index.refresh(store, BBC.published + timedelta(hours=31))
    assert len(index) == 0
    assert index.group([probe]) == {}


async def test_a_window_reaching_back_further_reloads(store: SqlStore) -> None:
    await store.save_stories([NewStory(BBC, None)])
    index = NearDuplicateIndex()
    await index.refresh(store, BBC.published + timedelta(hours=1))
    assert len(index) == 0
    await index.refresh(store, BBC.published - timedelta(hours=1))
    assert index.group([CNN]) == {CNN.key: BBC.key}


async def insert_with_id(store: SqlStore, story: Story, story_id: int) -> None:
    """Commit a story under a chosen id, as a slow transaction would commit its
    sequence number after a faster one committed a higher one."""
    async with store.engine.begin() as conn:
        await conn.execute(stories.insert().values(id=story_id, **story_values(story)))


async def test_an_id_committed_after_a_higher_one_is_found(store: SqlStore) -> None:
    await insert_with_id(store, make_story("first", published=BBC.published), 1)
    await insert_with_id(store, make_story("third", published=BBC.published), 3)
    index = NearDuplicateIndex()
    await index.refresh(store, NOW - WINDOW)
    await insert_with_id(store, make_story("fourth", published=BBC.published), 4)
    await index.refresh(store, NOW - WINDOW)
    await insert_with_id(store, BBC, 2)
    await index.refresh(store, NOW - WINDOW)
    assert index.group([CNN]) == {CNN.key: BBC.key}
    assert len(index) == 4


async def test_skipped_ids_are_asked_for_only_until_they_settle(store: SqlStore) -> None:
    clock = [0.0]
    index = NearDuplicateIndex(settle_seconds=60, monotonic=lambda: clock[0])
    await insert_with_id(store, make_story("first", published=BBC.published), 1)
    await index.refresh(store, NOW - WINDOW)
    await insert_with_id(store, make_story("third", published=BBC.published), 3)
    await index.refresh(store, NOW - WINDOW)
    clock[0] = 61.0
    await index.refresh(store, NOW - WINDOW)
    await insert_with_id(store, BBC, 2)
    await index.refresh(store, NOW - WINDOW)
    assert index.group([CNN]) == {}, "id 2 was given up on (a rolled-back insert, say)"


def labelled_stories() -> list[Story]:
    """Every labelled corpus item, recordable, plus an exact copy published at the
    same time as its original (a tie between two equally early twins)."""
    items = [stored(item["title"][:40]) for item in LABELLED["items"]]
    tie = replace(items[0], key="tie", canonical_url="https://copy.example/tie", guid=None)
    return [*items, tie]


async def test_lookups_equal_group_near_duplicates_over_the_window(store: SqlStore) -> None:
    corpus = sorted(labelled_stories(), key=lambda story: story.published)
    index = NearDuplicateIndex(page_size=7)
    checked = 0
    for first in range(0, len(corpus) - 10, 10):
        earlier, new = corpus[:first], corpus[first : first + 20]
        await store.save_stories([NewStory(s, None) for s in reversed(earlier[-10:])])
        since = new[-1].published - WINDOW
        await index.refresh(store, since)
        window = await store.recent_stories(since, limit=10**6)
        expected = group_near_duplicates(new, window)
        assert index.group(new) == expected
        assert len(index) == len(window)
        checked += len(expected)
    assert checked > 10, "the corpus has near-duplicates; the comparison must not be vacuous"
