"""A feed's own check interval: the store, the poll, the command line and chat."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from bot.core.errors import ConfigError, NotFoundError, StoreError
from bot.core.model import DueFeed, Feed, FeedState
from bot.pipeline.feedlist import load_feed_list, parse_feed_interval
from bot.pipeline.fetch import SAFETY_NET_SECONDS
from bot.pipeline.poll import Pipeline, PollConfig, interval_of
from bot.store import SqlStore
from tests.store_samples import T0
from tests.support.cli import run_cli
from tests.test_cli import data_dir
from tests.test_handlers_env import ADMIN, MEMBER, Env, env

__all__ = ["data_dir", "env"]


async def test_a_feed_keeps_its_own_interval_and_can_go_back(store: SqlStore) -> None:
    feed = await store.add_feed("https://a.example/rss", "A", interval=15)
    assert feed.interval == 15
    [listed] = await store.list_feeds()
    assert listed.feed.interval == 15
    await store.save_feed_state(feed.id, FeedState(next_poll_at=T0 + timedelta(hours=1)))
    changed = await store.set_feed_interval("A", 600)
    assert changed.interval == 600
    [due] = await store.claim_due_feeds(
        store._clock(), limit=5, owner="x", lease_seconds=5
    )  # a changed interval is checked at once
    assert due.feed.interval == 600
    assert (await store.set_feed_interval(str(feed.id), None)).interval is None


@pytest.mark.parametrize("interval", [0, 9.9, 86_401, -5])
async def test_intervals_out_of_range_are_refused(store: SqlStore, interval: float) -> None:
    with pytest.raises(StoreError, match="10 to 86400 seconds"):
        await store.add_feed("https://a.example/rss", "A", interval=interval)
    assert await store.list_feeds() == []


async def test_changing_an_unknown_feed_says_so(store: SqlStore) -> None:
    with pytest.raises(NotFoundError, match="no feed with URL, name or id 'nope'"):
        await store.set_feed_interval("nope", 30)


def test_the_poll_uses_the_feed_interval_over_the_default() -> None:
    pipeline = cast(Pipeline, SimpleNamespace(config=PollConfig(interval_seconds=60)))
    own = Feed(1, "https://a.example/rss", "a", interval=15)
    plain = Feed(2, "https://b.example/rss", "b")
    assert interval_of(pipeline, DueFeed(own, FeedState())) == 15
    assert interval_of(pipeline, DueFeed(plain, FeedState())) == 60
    pushed = DueFeed(own, FeedState(), pushed=True)  # a hub pushes it: polled as a safety net
    assert interval_of(pipeline, pushed) == SAFETY_NET_SECONDS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("default", None)],
)
def test_intervals_as_typed(text: str, seconds: float | None) -> None:
    assert parse_feed_interval(text) == seconds


@pytest.mark.parametrize("text", ["soon", "nan", "5", "2d", ""])
def test_bad_intervals_name_the_fix(text: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        parse_feed_interval(text)


def test_feeds_add_and_interval_on_the_command_line(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    code, out, _ = run_cli(
        capsys, "feeds", "add", "https://a.example/rss", "--name", "wire", "--interval", "20"
    )
    assert code == 0 and "checked at least every 20 s" in out
    code, out, _ = run_cli(capsys, "feeds", "list")
    assert "(every 20 s)" in out
    code, out, _ = run_cli(capsys, "feeds", "interval", "wire", "default")
    assert code == 0 and "the default (60 s)" in out
    code, out, err = run_cli(capsys, "feeds", "interval", "wire", "3")
    assert code != 0 and "10 to 86400 seconds" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "feeds", "add", "https://b.example/rss", "--interval", "100000")
    assert code != 0 and "10 to 86400 seconds" in err


async def test_admins_set_a_feed_interval_from_chat(env: Env) -> None:
    reply = await env.say("feed add https://news.example/rss News --interval 30s")
    assert reply.ok and "checked at least every 30 s" in reply.text
    [health] = await env.store.list_feeds()
    assert health.feed.name == "News" and health.feed.interval == 30
    reply = await env.say("feed interval News 5m")
    assert reply.ok and "every 300 s" in reply.text
    [health] = await env.store.list_feeds()
    assert health.feed.interval == 300
    changes = await env.store.history("feed", health.feed.url)
    assert [c.action for c in changes][:2] == ["interval", "add"]
    assert changes[0].before is not None and changes[0].before["interval"] == 30
    refused = await env.say("feed interval News 30", user=MEMBER)
    assert not refused.ok
    bad = await env.say("feed interval News often", user=ADMIN)
    assert not bad.ok and "not an interval" in bad.text


def test_the_feeds_file_may_give_a_feed_its_interval(tmp_path: Path) -> None:
    listing = tmp_path / "feeds.yaml"
    listing.write_text(
        "feeds:\n  - url: https://a.example/rss\n    interval: 5m\n"
        "  - url: https://b.example/rss\n    interval: 30\n  - url: https://c.example/rss\n"
    )
    specs = load_feed_list(listing)
    assert [s.interval for s in specs] == [300.0, 30.0, None]
    listing.write_text("feeds:\n  - url: https://a.example/rss\n    interval: 2\n")
    with pytest.raises(ConfigError, match=r"feed #1: a feed's interval must be 10 to 86400"):
        load_feed_list(listing)


async def test_feeds_added_together_keep_their_intervals(store: SqlStore) -> None:
    added, _ = await store.add_feeds(
        [("https://a.example/rss", "a", 0), ("https://b.example/rss", "b", 0)],
        intervals={"https://b.example/rss": 45.0},
    )
    assert [(f.name, f.interval) for f in added] == [("a", None), ("b", 45.0)]
    with pytest.raises(StoreError, match="10 to 86400"):
        await store.add_feeds(
            [("https://c.example/rss", "c", 0)], intervals={"https://c.example/rss": 1}
        )
    assert len(await store.list_feeds()) == 2  # all or nothing
