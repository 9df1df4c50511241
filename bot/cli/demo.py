"""`newswatch demo`: the whole bot, once, against the bundled replay corpus.

Serves the captured feeds on loopback, adds them to a fresh SQLite database,
subscribes a console destination to every rule and replays the snapshots one
tick at a time (each tick is twelve hours of replay time, so every feed is
due again), delivering alerts to the terminal as a chat would show them.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.cli.replay import BUNDLED_CORPUS, ReplayServer
from bot.core.model import ALL_RULES, Destination
from bot.core.settings import load_settings
from bot.pipeline.feedlist import FeedSpec
from bot.pipeline.poll import poll_once
from bot.platforms.console import ConsoleNotifier
from bot.service.app import App, running_app

DEMO_DESTINATION = Destination("console", "demo")
TICK = timedelta(hours=12)
DEMO_BACKFILL = 1_000


@dataclass
class VirtualClock:
    """Replay time: starts now and moves only when told."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, step: timedelta) -> None:
        self.now += step


@dataclass(frozen=True, slots=True)
class DemoReport:
    feeds: int
    polls: int
    stories: int
    alerts: int
    delivered: int
    not_modified: int
    feed_errors: tuple[str, ...]
    seconds: float

    def summary_line(self) -> str:
        errors = f", {len(self.feed_errors)} feed errors handled" if self.feed_errors else ""
        return (
            f"demo: {self.feeds} feeds, {self.polls} polls ({self.not_modified} not modified), "
            f"{self.stories} new stories, {self.alerts} alerts, {self.delivered} delivered"
            f"{errors} in {self.seconds:.1f} s"
        )


async def run_demo(
    out: TextIO,
    *,
    corpus: Path = BUNDLED_CORPUS,
    database_url: str | None = None,
    progress: Any = None,
) -> DemoReport:
    """Replay `corpus` through the real pipeline, printing alerts to `out`."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="newswatch-demo-") as tmp:
        settings = load_settings(
            overrides={
                "data_dir": Path(tmp),
                "database_url": database_url or f"sqlite:///{tmp}/demo.db",
                "allow_private_networks": True,  # the replay server is on loopback
                "poll_interval": 60,
                "feeds_file": None,
            }
        )
        clock = VirtualClock(datetime.now(UTC).replace(microsecond=0))
        console = ConsoleNotifier(stream=out)
        async with (
            ReplayServer(corpus) as server,
            running_app(settings, notifiers={"console": console}, clock=clock) as app,
        ):
            await _prepare(app, server)
            totals = await _replay(app, server, clock, progress)
    return DemoReport(feeds=len(server.channels), seconds=time.monotonic() - started, **totals)


async def _prepare(app: App, server: ReplayServer) -> None:
    for channel in server.channels:
        spec = FeedSpec(server.url(channel), channel.name, DEMO_BACKFILL)
        await app.store.add_feed(spec.url, spec.name, backfill=spec.backfill)
    await app.store.subscribe(DEMO_DESTINATION, [ALL_RULES], actor="demo")


async def _replay(
    app: App, server: ReplayServer, clock: VirtualClock, progress: Any
) -> dict[str, Any]:
    totals: dict[str, Any] = dict(polls=0, stories=0, alerts=0, delivered=0, not_modified=0)
    errors: list[str] = []
    for _ in range(server.ticks):
        report = await poll_once(app.pipeline)
        delivered = await app.deliverer.deliver_pending()
        totals["polls"] += report.feeds_polled
        totals["not_modified"] += report.not_modified
        totals["stories"] += report.new_stories
        totals["alerts"] += report.alerts
        totals["delivered"] += delivered.sent
        errors += [error for error in report.errors if error not in errors]
        server.advance()
        clock.advance(TICK)
        if progress is not None:
            progress()
    return totals | {"feed_errors": tuple(errors)}
