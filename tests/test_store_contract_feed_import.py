"""Store contract: `add_feeds`, the all-or-nothing bulk add behind OPML import and the
feeds file (issue 11 case 4). Runs on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.errors import StoreError
from bot.store import SqlStore


async def test_add_feeds_adds_in_order_and_skips_known_and_repeated(store: SqlStore) -> None:
    await store.add_feed("https://known.example/rss", "Known")
    added, skipped = await store.add_feeds(
        [
            ("https://b.example/rss", "B", 0),
            ("https://known.example/rss", "Again", 0),
            ("https://a.example/rss", "", 3),
            ("https://b.example/rss", "B twice", 0),
        ]
    )
    assert [(f.url, f.name, f.backfill) for f in added] == [
        ("https://b.example/rss", "B", 0),
        ("https://a.example/rss", "https://a.example/rss", 3),
    ]
    assert skipped == ["https://b.example/rss", "https://known.example/rss"]
    listed = {health.feed.url for health in await store.list_feeds()}
    assert listed == {"https://known.example/rss", "https://b.example/rss", "https://a.example/rss"}
    assert await store.add_feeds([]) == ([], [])


async def test_a_bad_spec_adds_nothing(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="backfill must be 0 or more"):
        await store.add_feeds([("https://ok.example/rss", "Ok", 0), ("https://x.example", "X", -1)])
    assert await store.list_feeds() == []


async def test_many_feeds_in_one_transaction_and_an_interrupted_import_leaves_none(
    store: SqlStore,
) -> None:
    specs = [(f"https://n{i}.example/rss", f"N{i}", 0) for i in range(3000)]
    added, _ = await store.add_feeds(specs)
    assert len(added) == 3000 and len(await store.list_feeds()) == 3000

    more = [(f"https://m{i}.example/rss", f"M{i}", 0) for i in range(20_000)]
    task = asyncio.ensure_future(store.add_feeds(more))
    await asyncio.sleep(0)  # let it start its transaction, then cancel it like Ctrl-C
    for _ in range(50):
        if task.done():
            break
        task.cancel()
        await asyncio.sleep(0.001)
    if task.cancelled():
        assert len(await store.list_feeds()) == 3000  # none of the interrupted import
    else:  # it finished before the cancel arrived: then all of it is there
        assert len(await store.list_feeds()) == 23_000
