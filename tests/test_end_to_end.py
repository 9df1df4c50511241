"""End to end: real feeds on loopback → the real pipeline → the console notifier.

A real HTTP server serves captured news feeds from the corpus and changes
between polls (new snapshots, 304s, a 500, a garbage body, a redirect, a
billion-laughs document). The real service (`build_app` + `poll_once` + the
delivery loop, driven by a virtual clock instead of the scheduler) runs for
several ticks with a console subscription, and is restarted half-way on the
same database. The expected alerts come from an independent oracle:
feedparser over the same files and a plain regular expression over titles.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from bot.core.model import ALL_RULES, Destination
from bot.core.settings import Settings, load_settings
from bot.pipeline.poll import poll_once
from bot.platforms.console import ConsoleNotifier
from bot.service.app import App, build_app
from tests.support.data import FEEDS
from tests.support.feed_server import FeedServer

HERE = Path(__file__).resolve().parent
CORPUS = FEEDS
RULES = HERE / "data" / "e2e-rules.yaml"
ORACLE = {
    "iran": re.compile(r"\biran\b", re.IGNORECASE),
    "ukraine": re.compile(r"\b(ukraine|ukrainian|kyiv)\b", re.IGNORECASE),
}
CONSOLE = Destination("console", "e2e")
TICK = timedelta(hours=12)
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>
<rss version="2.0"><channel><title>&f;</title><item><title>Iran &f;</title>
<link>https://evil.example/laughs</link></item></channel></rss>"""

NPR = sorted((CORPUS / "npr").glob("npr-news-2024-04-*.xml"))
BBC = sorted((CORPUS / "bbc").glob("*.xml"))
CNN = sorted((CORPUS / "cnn").glob("*.xml"))


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


def plan() -> Iterator[dict[str, tuple[str, object]]]:
    """What each path serves at each tick: ("file", path) | ("bytes", body) | ("status", code)."""
    bad = [
        ("status", 500),
        ("bytes", b"\x00\x89garbage that is not a feed"),
        ("bytes", BILLION_LAUGHS),
    ]
    for tick in range(8):
        npr_file = NPR[2] if tick == 3 else NPR[min(tick, len(NPR) - 1)]  # tick 3 repeats → 304
        bbc = bad[tick - 1] if 1 <= tick <= 3 else ("file", BBC[min(tick, len(BBC) - 1)])
        yield {
            "/npr.xml": ("file", npr_file),
            "/bbc.xml": bbc,
            "/cnn.xml": ("file", CNN[min(tick, len(CNN) - 1)]),
        }


def oracle(schedule: list[dict[str, tuple[str, object]]]) -> dict[str, set[str]]:
    """link → rules expected to alert: first sighting of each link, after a feed's first
    successful poll (backlog does not alert), matched by regex on the first title seen."""
    seen: set[str] = set()
    expected: dict[str, set[str]] = {}
    primed: set[str] = set()
    for tick in schedule:
        for path, (kind, value) in tick.items():
            if kind != "file":
                continue
            for entry in feedparser.parse(Path(str(value)).read_bytes()).entries:
                link = entry.get("link", "").split("?")[0]
                if not link or link in seen:
                    continue
                seen.add(link)
                rules = {name for name, rx in ORACLE.items() if rx.search(entry.get("title", ""))}
                if rules and path in primed:
                    expected[link] = rules
            primed.add(path)
    return expected


def serve(server: FeedServer, tick: dict[str, tuple[str, object]]) -> None:
    for path, (kind, value) in tick.items():
        target = "/cnn-live.xml" if path == "/cnn.xml" else path
        if kind == "file":
            body = Path(str(value)).read_bytes()
            server.serve_bytes(target, body, etag=f'"{Path(str(value)).name}"')
        elif kind == "bytes":
            server.serve_bytes(target, bytes(value))  # type: ignore[call-overload]
        else:
            server.fail(target, status=int(value))  # type: ignore[call-overload]
    server.redirect("/cnn.xml", "/cnn-live.xml", status=301)


def settings_for(tmp_path: Path) -> Settings:
    return load_settings(
        overrides={
            "data_dir": tmp_path,
            "database_url": f"sqlite:///{tmp_path}/e2e.db",
            "rules_file": RULES,
            "allow_private_networks": True,
            "poll_interval": 60,
            "feeds_file": None,
        }
    )


def alerted_links(output: str) -> list[str]:
    return [line.split("?")[0] for line in output.splitlines() if line.startswith("http")]


async def run_tick(
    app: App, server: FeedServer, tick: dict[str, tuple[str, object]], clock: Clock
) -> None:
    serve(server, tick)
    await poll_once(app.pipeline)
    await app.deliverer.deliver_pending()
    clock.now += TICK


@pytest.mark.slow
async def test_feeds_to_console_alerts_exactly_once_across_a_restart(tmp_path: Path) -> None:
    schedule = list(plan())
    expected = oracle(schedule)
    assert expected, "the oracle found nothing to alert: the test data is wrong"
    out = io.StringIO()
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    settings = settings_for(tmp_path)
    async with FeedServer() as server:
        app = await build_app(
            settings, notifiers={"console": ConsoleNotifier(stream=out)}, clock=clock
        )
        for name in ("npr", "bbc", "cnn"):
            await app.store.add_feed(server.url(f"/{name}.xml"), name)
        await app.store.subscribe(CONSOLE, [ALL_RULES], actor="test")
        for tick in schedule[:5]:
            await run_tick(app, server, tick, clock)
        # Queue the next tick's alerts, then "crash" before delivering them.
        serve(server, schedule[5])
        await poll_once(app.pipeline)
        clock.now += TICK
        await app.close()

        app = await build_app(
            settings, notifiers={"console": ConsoleNotifier(stream=out)}, clock=clock
        )
        try:
            await app.deliverer.deliver_pending()  # the queued rows survive the restart
            for tick in schedule[6:]:
                await run_tick(app, server, tick, clock)
            health = {h.feed.name: h.state for h in await app.store.list_feeds()}
        finally:
            await app.close()
        assert server.hits["/npr.xml"] == len(schedule)
        assert server.hits["/cnn.xml"] == server.hits["/cnn-live.xml"] == len(schedule)

    links = alerted_links(out.getvalue())
    assert len(links) == len(set(links)), "an alert was delivered twice"
    assert set(links) == set(expected)
    assert health["bbc"].error_count == 0 and health["bbc"].primed
    assert health["cnn"].last_status == 304  # its last snapshot repeats: conditional GET
    assert health["npr"].etag and health["npr"].error_count == 0


@pytest.mark.slow
async def test_bad_feeds_are_recorded_and_do_not_stop_others(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    async with FeedServer() as server:
        server.serve_bytes("/laughs.xml", BILLION_LAUGHS)
        server.serve_bytes(
            "/garbage.xml", b"<html><body>Not here</body></html>", content_type="text/html"
        )
        server.fail("/down.xml", status=500)
        server.serve_file("/npr.xml", NPR[0])
        app = await build_app(
            settings_for(tmp_path),
            notifiers={"console": ConsoleNotifier(stream=io.StringIO())},
            clock=clock,
        )
        try:
            for name in ("laughs", "garbage", "down", "npr"):
                await app.store.add_feed(server.url(f"/{name}.xml"), name)
            report = await poll_once(app.pipeline)
            health = {h.feed.name: h.state for h in await app.store.list_feeds()}
        finally:
            await app.close()
    assert report.feeds_polled == 4 and report.feeds_failed == 3
    assert health["npr"].error_count == 0 and health["npr"].primed
    assert "entities" in (health["laughs"].last_error or "")
    assert health["down"].last_status == 500 and health["down"].error_count == 1
    for name in ("laughs", "garbage", "down"):
        error = health[name].last_error or ""
        assert error and "\n" not in error
        assert health[name].next_poll_at is not None and health[name].next_poll_at > clock.now
