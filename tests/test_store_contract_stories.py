"""Store contract, part 2: story dedup, atomic recording, recent stories, near-duplicates."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from bot.core.model import Story
from bot.store import SqlStore
from bot.store.stories import _candidates_query, padded
from bot.store.transactions import insert_chunks
from tests.store_samples import T0, chat, hours, make_story, new_story

STORED = make_story(
    "stored",
    guid="urn:1",
    feed_id=None,
    publisher="reuters.com",
    title_key="drones hit depot",
    published=T0,
)


RENDER_IN_LISTS = {"render_postcompile": True}

TITLE = {"title_key": "drones hit depot", "publisher": "reuters.com"}


@pytest.mark.parametrize(
    ("case", "candidate", "known"),
    [
        ("same key", {"key": "stored", "canonical_url": "https://x/other", "guid": None}, True),
        ("same canonical URL", {"canonical_url": STORED.canonical_url}, True),
        ("same GUID, same feed", {"guid": "urn:1"}, True),
        ("same GUID, other feed", {"guid": "urn:1", "feed_id": 7}, False),
        ("same GUID, no feed", {"guid": "urn:1", "feed_id": None}, False),
        ("same title and publisher, 47h later", {**TITLE, "published": T0 + hours(47)}, True),
        ("same title and publisher, 48h earlier", {**TITLE, "published": T0 - hours(48)}, True),
        ("same title and publisher, 49h later", {**TITLE, "published": T0 + hours(49)}, False),
        ("same title, other publisher", {**TITLE, "publisher": "apnews.com"}, False),
        ("nothing in common", {}, False),
    ],
)
async def test_known_story_keys_dedup_criteria(
    store: SqlStore, case: str, candidate: dict[str, Any], known: bool
) -> None:
    feed = await store.add_feed("https://reuters.example/rss", "Reuters")
    await store.save_stories([new_story("stored", **{**_fields(STORED), "feed_id": feed.id})])
    fields = {"feed_id": feed.id, **candidate}
    story = make_story(fields.pop("key", "candidate"), **fields)
    assert await store.known_story_keys([story]) == ({story.key} if known else set()), case


async def test_empty_title_keys_never_match(store: SqlStore) -> None:
    await store.save_stories([new_story("a", title_key="", publisher="p")])
    assert await store.known_story_keys([make_story("b", title_key="", publisher="p")]) == set()


async def test_known_story_keys_window_is_a_parameter(store: SqlStore) -> None:
    await store.save_stories([new_story("a", title_key="same", published=T0)])
    later = make_story("b", title_key="same", published=T0 + hours(30))
    assert await store.known_story_keys([later]) == {"b"}
    assert await store.known_story_keys([later], title_window_hours=24) == set()


async def test_known_story_keys_checks_a_whole_batch(store: SqlStore) -> None:
    await store.save_stories([new_story(f"s{n}") for n in range(0, 1200, 2)])
    batch = [make_story(f"s{n}") for n in range(1200)]
    known = await store.known_story_keys(batch)
    assert known == {f"s{n}" for n in range(0, 1200, 2)}
    assert await store.known_story_keys([]) == set()


async def test_save_stories_writes_stories_and_outbox_rows(store: SqlStore) -> None:
    saved = await store.save_stories(
        [new_story("a", chat("1"), chat("2"), chat("1")), new_story("b"), new_story("c", chat("1"))]
    )
    assert saved.stored_keys == ("a", "b", "c")
    assert saved.outbox_rows == 3
    assert await store.outbox_pending() == 3
    assert {s.key for s in await store.recent_stories(T0 - hours(1))} == {"a", "b", "c"}


@pytest.mark.parametrize(
    "same",
    [
        {"key": "a", "canonical_url": "https://news.example/other", "guid": "other"},
        {"canonical_url": "https://news.example/a"},
        {"guid": "guid-a"},
    ],
    ids=["key", "canonical URL", "GUID"],
)
async def test_a_story_already_stored_queues_no_outbox_rows(
    store: SqlStore, same: dict[str, Any]
) -> None:
    feed = await store.add_feed("https://news.example/rss", "News")
    await store.save_stories([new_story("a", chat("1"), feed_id=feed.id)])
    fields = {"feed_id": feed.id, **same}
    again = new_story(fields.pop("key", "again"), chat("1"), chat("2"), **fields)
    fresh = new_story("fresh", chat("2"), feed_id=feed.id)
    saved = await store.save_stories([again, fresh])
    assert saved.stored_keys == ("fresh",)
    assert await store.known_story_keys([again.story]) == {again.story.key}
    assert saved.outbox_rows == 1
    assert await store.outbox_pending() == 2


async def test_save_stories_reports_exactly_what_a_large_batch_inserted(store: SqlStore) -> None:
    await store.save_stories([new_story(f"s{n}") for n in range(0, 1500, 3)])
    items = [new_story(f"s{n}", chat(str(n % 7))) for n in range(1500)]
    saved = await store.save_stories(items)
    expected = tuple(f"s{n}" for n in range(1500) if n % 3)
    assert saved.stored_keys == expected
    assert saved.outbox_rows == len(expected)
    assert await store.outbox_pending() == len(expected)


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, []), (1, [1]), (63, [32, 16, 8, 4, 2, 1]), (64, [64]), (100, [64, 32, 4]),
     (200, [64, 64, 64, 8])],
)  # fmt: skip
def test_inserts_go_in_power_of_two_chunks(count: int, sizes: list[int]) -> None:
    rows = list(range(count))
    chunks = list(insert_chunks(rows))
    assert [len(chunk) for chunk in chunks] == sizes
    assert [row for chunk in chunks for row in chunk] == rows


async def test_saves_of_any_size_use_few_insert_statements(store: SqlStore) -> None:
    """Each multi-row INSERT's row count is another SQL text, which SQLite keeps
    prepared (26 MB after a cold poll of 1,000 feeds when unchunked)."""
    texts: set[str] = set()

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO stories"):
            texts.add(statement)

    sa.event.listen(store.engine.sync_engine, "before_cursor_execute", note)
    try:
        for size in range(1, 140):
            saved = await store.save_stories([new_story(f"{size}-{n}") for n in range(size)])
            assert len(saved.stored_keys) == size
    finally:
        sa.event.remove(store.engine.sync_engine, "before_cursor_execute", note)
    assert len(texts) == 7  # 1, 2, 4, ..., 64 rows


async def test_duplicates_within_one_batch_are_stored_once(store: SqlStore) -> None:
    first = new_story("a", chat("1"))
    same_url = new_story("b", chat("2"), canonical_url="https://news.example/a")
    saved = await store.save_stories([first, first, same_url])
    assert saved == type(saved)(stored_keys=("a",), outbox_rows=1)


async def test_stories_round_trip_exactly(store: SqlStore) -> None:
    story = make_story(
        "rt",
        title="Drones hit «depot» — 3 dead",
        published=T0.replace(microsecond=123456),
        guid=None,
        canonical_url="",
        fingerprint=-(1 << 63),
    )
    await store.save_stories([new_story("rt", **_fields(story))])
    assert await store.recent_stories(T0 - hours(1)) == [story]


async def test_recent_stories_newest_first_since_and_limit(store: SqlStore) -> None:
    await store.save_stories(
        [
            new_story("old", published=T0 - hours(50), fetched_at=T0 - hours(50)),
            new_story("late-fetch", published=T0 - hours(50), fetched_at=T0),
            new_story("mid", published=T0 - hours(2), fetched_at=T0 - hours(2)),
            new_story("new", published=T0, fetched_at=T0),
        ]
    )
    recent = await store.recent_stories(T0 - hours(24))
    assert [s.key for s in recent] == ["new", "mid", "late-fetch"]
    assert [s.key for s in await store.recent_stories(T0 - hours(24), limit=1)] == ["new"]


def _bits(*positions: int) -> int:
    return sum(1 << p for p in positions)


BASE_PRINT = _bits(0, 5, 9, 20, 33, 40, 63)  # an unsigned value with the top bit set


async def test_find_near_duplicate_within_distance(store: SqlStore) -> None:
    await store.save_stories(
        [
            new_story("far", fingerprint=BASE_PRINT ^ _bits(1, 2, 3, 4, 6)),
            new_story("near", fingerprint=BASE_PRINT ^ _bits(1, 2)),
            new_story("also-near", fingerprint=BASE_PRINT ^ _bits(7, 8)),
        ]
    )
    probe = make_story("probe", fingerprint=BASE_PRINT, fetched_at=T0)
    found = await store.find_near_duplicate(probe, since=T0 - hours(48), max_distance=3)
    assert found is not None and found.key == "near"
    assert await store.find_near_duplicate(probe, since=T0 - hours(48), max_distance=1) is None


async def test_find_near_duplicate_ignores_itself_old_and_unprinted(store: SqlStore) -> None:
    old = T0 - hours(100)
    await store.save_stories(
        [
            new_story("self", fingerprint=BASE_PRINT),
            new_story("old", fingerprint=BASE_PRINT, published=old, fetched_at=old),
            new_story("blank", fingerprint=0),
        ]
    )
    probe = make_story("self", fingerprint=BASE_PRINT)
    assert await store.find_near_duplicate(probe, since=T0 - hours(48), max_distance=3) is None
    blank = make_story("probe", fingerprint=0)
    assert await store.find_near_duplicate(blank, since=T0 - hours(48), max_distance=64) is None


def _fields(story: Story) -> dict[str, Any]:
    return {name: getattr(story, name) for name in Story.__slots__ if name != "key"}


@pytest.mark.parametrize(
    ("count", "size"), [(0, 0), (1, 8), (8, 8), (9, 16), (500, 512), (512, 512), (513, 1024)]
)
def test_in_lists_are_padded_to_few_lengths(count: int, size: int) -> None:
    values = [f"v{n}" for n in range(count)]
    got = padded(values)
    assert len(got) == size
    assert got[:count] == values and set(got) == set(values)
    assert len(padded(values, at_least=64)) == max(size, 64 if count else 0)


def test_the_dedup_query_has_one_form_per_batch_length() -> None:
    """Its six IN lists are padded to one length: a batch's 3 publishers and 200
    title keys make the same SQL as 200 of each (fewer prepared statements)."""
    forms = set()
    for count in range(1, 300, 7):
        for publishers in (1, 3, count):
            batch = [
                make_story(f"k{n}", publisher=f"p{n % publishers}", title_key=f"t{n}", guid=f"g{n}")
                for n in range(count)
            ]
            query = _candidates_query(batch, hours(48))
            sql = query.compile(dialect=sqlite.dialect(), compile_kwargs=RENDER_IN_LISTS)
            forms.add(str(sql))
    assert len(forms) == 7  # 8, 16, ..., 512 values a list


async def test_near_duplicate_candidates_are_the_window_in_id_order(store: SqlStore) -> None:
    await store.save_stories(
        [
            new_story("old", published=T0 - hours(50), fetched_at=T0 - hours(50)),
            new_story("late-fetch", published=T0 - hours(50), fetched_at=T0, fingerprint=-5),
            new_story("new", published=T0, fetched_at=T0),
            new_story("mid", published=T0 - hours(2), fetched_at=T0 - hours(2)),
        ]
    )
    rows = await store.near_duplicate_candidates(T0 - hours(24))
    assert [row.key for row in rows] == ["late-fetch", "new", "mid"]
    assert [row.id for row in rows] == sorted(row.id for row in rows)
    late = rows[0]
    assert (late.title, late.summary, late.fingerprint) == (
        "Title of late-fetch",
        "Summary of late-fetch.",
        -5,
    )
    assert (late.published, late.fetched_at) == (T0 - hours(50), T0)


async def test_near_duplicate_candidates_page_by_id(store: SqlStore) -> None:
    await store.save_stories([new_story(f"s{n}") for n in range(5)])
    ids = [row.id for row in await store.near_duplicate_candidates(T0 - hours(1))]
    first = await store.near_duplicate_candidates(T0 - hours(1), limit=2)
    rest = await store.near_duplicate_candidates(T0 - hours(1), after_id=first[-1].id)
    assert [row.id for row in first + rest] == ids
    again = await store.near_duplicate_candidates(
        T0 - hours(1), after_id=ids[3], also_ids={ids[0], ids[2], 10**9}
    )
    assert [row.id for row in again] == [ids[0], ids[2], ids[4]]
    assert await store.near_duplicate_candidates(T0 + hours(1)) == []
