"""NEWSWATCH_BACKFILL: the backlog a newly added feed may alert, wherever it is added
(feeds file, `feeds add`, OPML import, the chat command), unless given per feed."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli.commands import main
from bot.pipeline.feedlist import load_feed_list, parse_opml
from bot.store import open_store
from tests.test_handlers_env import Env, env

__all__ = ["env"]  # the fixture, imported for pytest

OPML = b"<opml version='2.0'><body><outline text='A' xmlUrl='https://a.example/rss'/></body></opml>"


def test_the_feeds_file_and_opml_take_the_default(tmp_path: Path) -> None:
    listing = tmp_path / "feeds.yaml"
    listing.write_text(
        "feeds:\n  - url: https://a.example/rss\n  - url: https://b.example/rss\n    backfill: 1\n"
    )
    assert [s.backfill for s in load_feed_list(listing, default_backfill=7)] == [7, 1]
    assert [s.backfill for s in parse_opml(OPML, default_backfill=7)] == [7]
    assert [s.backfill for s in parse_opml(OPML)] == [0]


async def test_feed_added_from_chat_takes_the_default(env: Env) -> None:
    env.ctx = replace(env.ctx, default_backfill=4)
    reply = await env.say("feed add https://news.example/rss News")
    assert "added feed" in reply.text
    (health,) = await env.store.list_feeds()
    assert health.feed.backfill == 4


async def stored_backfills(database: Path) -> dict[str, int]:
    store = await open_store(f"sqlite:///{database}")
    try:
        return {health.feed.url: health.feed.backfill for health in await store.list_feeds()}
    finally:
        await store.close()


@pytest.mark.parametrize(("argv", "expected"), [([], 5), (["--backfill", "2"], 2)])
def test_feeds_add_and_import_take_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], expected: int
) -> None:
    for name in ("NEWSWATCH_CONFIG", "NEWSWATCH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NEWSWATCH_BACKFILL", "5")
    (tmp_path / "feeds.opml").write_bytes(OPML)
    for command in (["feeds", "add", "https://b.example/rss", *argv], ["feeds", "import"]):
        if command[1] == "import":
            command.append(str(tmp_path / "feeds.opml"))
        with pytest.raises(SystemExit) as exited:
            main(command)
        assert exited.value.code == 0
    assert asyncio.run(stored_backfills(tmp_path / "newswatch.db")) == {
        "https://b.example/rss": expected,
        "https://a.example/rss": 5,
    }
