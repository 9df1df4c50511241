"""The event loop never stalls: the worst feeds at the size caps, with the seed
rules and the topic tier, while another feed's alert and its delivery go on.

Three hostile feeds fall due with a plain one: items at the text bounds built
for the NEAR operator's worst case (thousands of "drone" then thousands of
"strike"), long prose that matches the seed rules (the summary's heaviest
input), and a body of spaces before `x` (the prolog screen's old
backtracking case). The plain feed's drone-strike story must reach the
console, and the loop-lag monitor must never see the loop held for long:
before parsing, matching and summarising went to worker threads, these
inputs held it for seconds. The bound is loose (a shared 2-core CI machine);
the figure itself is in benchmarks/hardening.md.
"""

from __future__ import annotations

import asyncio
import io
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

from bot.core import text
from bot.core.model import ALL_RULES, Destination, FeedState
from bot.core.settings import load_settings
from bot.pipeline.poll import poll_continuously, poll_once
from bot.platforms.console import ConsoleNotifier
from bot.service.app import build_app
from bot.service.looplag import LoopLagMonitor
from bot.store.base import Store
from tests.support.feed_server import FeedServer
from tests.support.waiting import all_feeds_due_at, wait_until

CONSOLE = Destination("console", "desk")
STALL_BOUND_SECONDS = 0.5
"""Far above the ~0.1 s goal (the benchmark's figure), far below the old stalls."""


CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"


def rss(*items: tuple[str, str, str]) -> bytes:
    """A feed of (slug, title, text) items dated now; the text is both the
    description and the full content (each cut to its bound by normalize)."""
    when = format_datetime(datetime.now(UTC))
    body = "".join(
        f"<item><title>{escape(title)}</title><link>https://news.example/{slug}</link>"
        f"<guid>https://news.example/{slug}</guid><description>{escape(body)}"
        f"</description><content:encoded>{escape(body)}</content:encoded>"
        f"<pubDate>{when}</pubDate></item>"
        for slug, title, body in items
    )
    return (
        f'<rss version="2.0" xmlns:content="{CONTENT_NS}"><channel><title>Wire</title>'
        f"{body}</channel></rss>"
    ).encode()


def near_worst(n: int) -> str:
    half = text.MAX_CONTENT_CHARS // 14
    return " ".join(["drone"] * half + [f"w{n}"] * 20 + ["strike"] * half)


def long_prose(seed: int) -> str:
    rnd = random.Random(seed)
    words = [
        "drone",
        "strike",
        "missile",
        "Ukraine",
        "Russia",
        "officials",
        "said",
        "attack",
        "the",
        "a",
        "on",
    ]
    return " ".join(rnd.choice(words) + ("." if rnd.random() < 0.1 else "") for _ in range(30_000))


async def states(store: Store) -> dict[str, FeedState]:
    return {h.feed.name: h.state for h in await store.list_feeds()}


async def test_worst_inputs_never_hold_the_loop_while_others_alert(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = load_settings(
        overrides={
            "data_dir": tmp_path,
            "database_url": f"sqlite:///{tmp_path}/stall.db",
            "allow_private_networks": True,
            "feeds_file": None,
        }
    )
    names = ("plain", "near", "prose", "prolog")
    async with FeedServer() as server:
        for name in names:
            server.serve_bytes(f"/{name}.xml", rss((f"{name}0", "Weather today", "Mild.")))
        app = await build_app(settings, notifiers={"console": ConsoleNotifier(stream=out)})
        stop = asyncio.Event()
        loops: list[asyncio.Task[None]] = []
        lag = LoopLagMonitor(interval=0.05)
        try:
            for name in names:
                await app.store.add_feed(server.url(f"/{name}.xml"), name)
            await app.store.subscribe(CONSOLE, [ALL_RULES], actor="test")
            await poll_once(app.pipeline)  # primed: only what comes next may alert
            soon = datetime.now(UTC) + timedelta(seconds=1)
            await all_feeds_due_at(app.store, soon)
            server.serve_bytes(
                "/near.xml",
                rss(*((f"n{i}", "Drone strike " * 60, near_worst(i)) for i in range(6))),
            )
            server.serve_bytes(
                "/prose.xml",
                rss(*((f"p{i}", "Drone strike report", long_prose(i)) for i in range(6))),
            )
            server.serve_bytes("/prolog.xml", b" " * 40 + b"x")
            server.serve_bytes(
                "/plain.xml",
                rss(
                    (
                        "plain1",
                        "Drone strike kills three in Kherson region",
                        "Officials said a drone hit a residential building overnight.",
                    )
                ),
            )
            lag.start()
            loops = [
                asyncio.create_task(poll_continuously(app.pipeline, stop)),
                asyncio.create_task(app.deliverer.run(stop, tick_seconds=1.0)),
            ]
            await wait_until(
                within=60, condition=lambda: "https://news.example/plain1" in out.getvalue()
            )
            await wait_until(
                within=60, condition=lambda: all(server.hits[f"/{name}.xml"] >= 2 for name in names)
            )
            await wait_until(
                within=60, condition=lambda: "https://news.example/n0" in out.getvalue()
            )
            deadline = asyncio.get_running_loop().time() + 60
            while not (health := await states(app.store))["prolog"].error_count:
                assert asyncio.get_running_loop().time() < deadline, "prolog feed never saved"
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            if loops:
                await asyncio.wait_for(asyncio.gather(*loops), timeout=60)
            await lag.stop()
            await app.close()
    assert lag.worst < STALL_BOUND_SECONDS, f"the event loop was held {lag.worst:.2f} s"
    assert "not a feed" in (health["prolog"].last_error or "")
