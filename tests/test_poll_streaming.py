"""No feed waits for another: the service's poller and delivery loop, in process.

Two primed feeds on two loopback servers (two hosts) fall due in about a second; one of them
then hangs (its answer held until the test lets it go). The other feed's new
story must reach the console while the slow one is still being fetched. Both
loops are given a 30 s tick, so the alert arriving within seconds also shows
the poller woke at the feeds' due time and the delivery loop was woken by the
queued row, neither waiting for a tick.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from bot.core.model import ALL_RULES, Destination
from bot.core.settings import load_settings
from bot.pipeline.poll import poll_continuously, poll_once
from bot.platforms.console import ConsoleNotifier
from bot.service.app import build_app
from tests.support.feed_server import FeedServer
from tests.support.waiting import all_feeds_due_at, wait_until

RULES = Path(__file__).resolve().parent / "data" / "e2e-rules.yaml"
CONSOLE = Destination("console", "desk")
LONG_TICK = 30.0


def rss(*items: tuple[str, str]) -> bytes:
    """A feed of (slug, title) items dated now."""
    when = format_datetime(datetime.now(UTC))
    body = "".join(
        f"<item><title>{title}</title><link>https://news.example/{slug}</link>"
        f"<guid>https://news.example/{slug}</guid><pubDate>{when}</pubDate></item>"
        for slug, title in items
    )
    return f'<rss version="2.0"><channel><title>Wire</title>{body}</channel></rss>'.encode()


async def test_a_hanging_feed_does_not_delay_another_feeds_alert(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = load_settings(
        overrides={
            "data_dir": tmp_path,
            "database_url": f"sqlite:///{tmp_path}/stream.db",
            "rules_file": RULES,
            "allow_private_networks": True,
            "feeds_file": None,
            "semantic": "off",
        }
    )
    async with FeedServer() as server, FeedServer() as slow_host:
        server.serve_bytes("/fast.xml", rss(("a1", "Markets open")))
        slow_host.serve_bytes("/slow.xml", rss(("b1", "Weather")))
        app = await build_app(settings, notifiers={"console": ConsoleNotifier(stream=out)})
        stop = asyncio.Event()
        loops: list[asyncio.Task[None]] = []
        try:
            await app.store.add_feed(server.url("/fast.xml"), "fast")
            await app.store.add_feed(slow_host.url("/slow.xml"), "slow")
            await app.store.subscribe(CONSOLE, [ALL_RULES], actor="test")
            await poll_once(app.pipeline)  # primes both: their backlog never alerts
            soon = datetime.now(UTC) + timedelta(seconds=1)
            await all_feeds_due_at(app.store, soon)
            held = asyncio.Event()
            slow_host.serve_bytes("/slow.xml", rss(("b2", "Iran talks resume")), hold=held)
            server.serve_bytes("/fast.xml", rss(("a2", "Ukraine grain deal signed")))
            before = slow_host.hits["/slow.xml"]

            loops = [
                asyncio.create_task(
                    poll_continuously(app.pipeline, stop, max_wait_seconds=LONG_TICK)
                ),
                asyncio.create_task(app.deliverer.run(stop, tick_seconds=LONG_TICK)),
            ]
            await wait_until(lambda: "https://news.example/a2" in out.getvalue())

            assert slow_host.hits["/slow.xml"] == before + 1  # its check has started …
            assert slow_host.in_flight["/slow.xml"] == 1  # … and is still waiting
            slow = {h.feed.name: h.state for h in await app.store.list_feeds()}["slow"]
            assert slow.next_poll_at == soon  # not yet saved: the slow check goes on
            assert "news.example/b2" not in out.getvalue()

            held.set()
            await wait_until(lambda: "https://news.example/b2" in out.getvalue())
        finally:
            stop.set()
            if loops:
                await asyncio.wait_for(asyncio.gather(*loops), timeout=30)
            await app.close()
    links = [line for line in out.getvalue().splitlines() if line.startswith("https://")]
    assert sorted(links) == ["https://news.example/a2", "https://news.example/b2"]
