"""Batch dedup and cross-outlet grouping, table-tested on stories from the corpus."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.model import Entry, Feed, Story
from bot.pipeline.dedupe.batch import (
    IndexedStory,
    TwinIndex,
    dedupe_batch,
    group_batch,
    group_near_duplicates,
)
from bot.pipeline.dedupe.fingerprint import event_signature, is_near_duplicate
from bot.pipeline.normalize import story_from_entry

T0 = datetime(2021, 9, 17, 12, tzinfo=UTC)


def story(
    title: str,
    *,
    link: str | None = None,
    guid: str | None = None,
    feed_id: int = 1,
    publisher: str = "BBC News",
    summary: str = "",
    hours: float = 0,
) -> Story:
    """A story built the way the poller builds it."""
    published = T0 + timedelta(hours=hours)
    return story_from_entry(
        Entry(guid=guid, link=link, title=title, summary=summary, published=published),
        feed=Feed(id=feed_id, url=f"https://feeds.example/{feed_id}", name=publisher),
        publisher=publisher,
        fetched_at=T0 + timedelta(hours=72),
    )


AUKUS = "https://www.bbc.co.uk/news/world-58582573"
ENVOYS = "https://www.bbc.co.uk/news/world-europe-58600000"


@pytest.mark.parametrize(
    ("batch", "unique", "dropped"),
    [
        ([], [], []),
        # same canonical URL from two feeds (tracking tags differ)
        ([story("Aukus pact", link=AUKUS + "?at_medium=RSS", feed_id=1),
          story("Aukus pact", link=AUKUS, feed_id=2)], [0], [1]),
        # the earlier published copy wins regardless of batch order
        ([story("Aukus pact", link=AUKUS, hours=2), story("Aukus pact", link=AUKUS, hours=1)],
         [1], [0]),
        # same feed + GUID under two links (a feed moved its URLs)
        ([story("A", link="https://a.example/1", guid="g1"),
          story("B", link="https://a.example/2", guid="g1")], [0], [1]),
        # same GUID in two different feeds is not the same item
        ([story("A", link="https://a.example/1", guid="g1", feed_id=1),
          story("B", link="https://a.example/2", guid="g1", feed_id=2)], [0, 1], []),
        # same publisher re-posted the title under a new URL
        ([story("LIVE: Aukus: France recalls envoys", link=ENVOYS),
          story("Aukus: France recalls envoys", link=ENVOYS + "-2")], [0], [1]),
        # same title from another publisher is not an exact duplicate
        ([story("France recalls envoys", link=ENVOYS),
          story("France recalls envoys", link="https://wsj.example/x", publisher="WSJ")],
         [0, 1], []),
        # a second copy by URL and a third under a new URL (by title): one survivor
        ([story("A", link="https://a.example/1"), story("A", link="https://a.example/1"),
          story("A", link="https://a.example/3")], [0], [1, 2]),
    ],
)  # fmt: skip
def test_dedupe_batch(batch: list[Story], unique: list[int], dropped: list[int]) -> None:
    kept, removed = dedupe_batch(batch)
    assert kept == [batch[index] for index in unique]
    assert removed == [batch[index] for index in dropped]


LABELLED = json.loads((Path(__file__).parent / "data" / "near_duplicates.json").read_text())


def corpus_story(title_start: str) -> Story:
    """The labelled corpus item whose title starts with `title_start`, as a Story."""
    item = next(item for item in LABELLED["items"] if item["title"].startswith(title_start))
    published = datetime.fromisoformat(item["published"])
    return story_from_entry(
        Entry(guid=None, link=item["url"], title=item["title"], summary=item["lead"],
              published=published),
        feed=Feed(id=1, url="https://feeds.example/1", name=item["publisher"]),
        publisher=item["publisher"],
        fetched_at=published,
    )  # fmt: skip


KABUL_CIA_CNN = corpus_story("CIA warned civilians")
BARADAR_AJE = corpus_story("Afghanistan: Taliban’s Mullah Baradar")
BARADAR_WSJ = corpus_story("Taliban Deny Rift")
KABUL_ADMISSION = corpus_story("'It was a mistake'")
GREAVES_BBC = corpus_story("England and Tottenham legend Greaves")
GREAVES_CNN = corpus_story("Jimmy Greaves, England World Cup winner")
GREAVES_DM = corpus_story("Tottenham and England legend Jimmy Greaves")


@pytest.mark.parametrize(
    ("new", "recent", "expected"),
    [
        ([], [GREAVES_BBC], {}),
        # five-outlets case: later outlets point at the first report, even via a chain
        ([GREAVES_CNN, GREAVES_DM], [GREAVES_BBC],
         {GREAVES_CNN.key: GREAVES_BBC.key, GREAVES_DM.key: GREAVES_BBC.key}),
        # all new in one batch: grouped on the earliest published (BBC 09:50, DM 13:24)
        ([GREAVES_CNN, GREAVES_DM, GREAVES_BBC], [],
         {GREAVES_CNN.key: GREAVES_BBC.key, GREAVES_DM.key: GREAVES_BBC.key}),
        # same event, different wording (WSJ's title shares only "Taliban" and "deny")
        ([BARADAR_WSJ], [BARADAR_AJE], {BARADAR_WSJ.key: BARADAR_AJE.key}),
        # same topic (the Kabul strike), different stories: not merged
        ([KABUL_ADMISSION], [KABUL_CIA_CNN], {}),
        # a story already recorded is not its own duplicate
        ([GREAVES_BBC], [GREAVES_BBC], {}),
    ],
)  # fmt: skip
def test_group_near_duplicates(
    new: list[Story], recent: list[Story], expected: dict[str, str]
) -> None:
    assert group_near_duplicates(new, recent) == expected


def test_group_near_duplicates_ignores_stories_outside_the_window() -> None:
    later = replace(GREAVES_DM, published=GREAVES_BBC.published + timedelta(hours=49))
    assert group_near_duplicates([later], [GREAVES_BBC]) == {}
    assert group_near_duplicates([GREAVES_DM], [GREAVES_BBC]) == {GREAVES_DM.key: GREAVES_BBC.key}


def brute_force_groups(new: list[Story], recent: list[Story]) -> dict[str, str]:
    """The definition: compare every new story with every earlier candidate."""
    groups: dict[str, str] = {}
    candidates = list(recent)
    for item in sorted(new, key=lambda item: item.published):
        twins = [c for c in candidates if c.key != item.key and is_near_duplicate(c, item)]
        original = min(twins, key=lambda twin: twin.published, default=None)
        if original is not None:
            groups[item.key] = groups.get(original.key, original.key)
        candidates.append(item)
    return groups


@pytest.mark.parametrize("split", [0, 10, 40])
def test_indexed_grouping_equals_pairwise_comparison(split: int) -> None:
    stories = [corpus_story(item["title"][:40]) for item in LABELLED["items"]]
    exact_copy = replace(stories[0], key="copy", title=stories[0].title + "!")
    stories.append(exact_copy)
    recent, new = stories[:split], stories[split:]
    expected = brute_force_groups(new, recent)
    assert expected, "the labelled corpus has near-duplicates; the comparison must not be vacuous"
    assert group_near_duplicates(new, recent) == expected


def test_index_only_stories_are_candidates_but_not_looked_up() -> None:
    backlog = replace(GREAVES_DM, published=GREAVES_BBC.published - timedelta(hours=1))
    groups = group_near_duplicates([GREAVES_CNN, backlog], [GREAVES_BBC], index_only={backlog.key})
    assert groups == {GREAVES_CNN.key: backlog.key}


def test_equally_early_twins_resolve_to_the_first_indexed() -> None:
    twin = replace(GREAVES_DM, key="dm-copy", published=GREAVES_BBC.published)
    assert group_near_duplicates([GREAVES_CNN], [twin, GREAVES_BBC]) == {GREAVES_CNN.key: twin.key}
    assert group_near_duplicates([GREAVES_CNN], [GREAVES_BBC, twin]) == {
        GREAVES_CNN.key: GREAVES_BBC.key
    }


def indexed(story: Story, rank: int) -> IndexedStory:
    return IndexedStory(story.key, event_signature(story), rank)


def test_removed_stories_are_no_longer_candidates() -> None:
    index = TwinIndex()
    for rank, item in enumerate([GREAVES_BBC, GREAVES_DM, KABUL_CIA_CNN], start=-3):
        index.add(indexed(item, rank))
    probe = event_signature(GREAVES_CNN)
    assert {c.key for c in index.candidates(probe)} == {GREAVES_BBC.key, GREAVES_DM.key}
    index.remove(-3)
    index.remove(-3)  # removing twice changes nothing
    assert [c.key for c in index.candidates(probe)] == [GREAVES_DM.key]
    assert -3 not in index and len(index) == 2
    assert group_batch([GREAVES_CNN], index) == {GREAVES_CNN.key: GREAVES_DM.key}


def test_postings_of_removed_stories_are_compacted() -> None:
    stories = [corpus_story(item["title"][:40]) for item in LABELLED["items"]]
    index = TwinIndex()
    for rank, item in enumerate(stories, start=-len(stories)):
        index.add(indexed(item, rank))
    full = index.postings
    kept = len(stories) // 3
    for rank in range(-len(stories), -kept):
        index.remove(rank)
    terms, bands = index.by_term, index.by_band
    posted = terms.ranks(terms) + bands.ranks(bands)
    assert len(posted) == index.postings < full
    assert sum(rank not in index for rank in posted) == index.stale <= index.postings / 2
    remaining = stories[-kept:]
    new = [replace(item, key=f"copy-{n}") for n, item in enumerate(remaining[:10])] + stories[:10]
    expected = group_near_duplicates(new, remaining)
    assert len(expected) >= 10
    assert group_batch(new, index) == expected
