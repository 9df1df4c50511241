"""`newswatch run`: the poller, the delivery loop, the scheduled jobs, the HTTP
server and the chat platforms.

Two loops run all the time, each beating the heartbeat that `/healthz` reads:
the poller (`poll_continuously`: each feed checked when it falls due, its
stories queued as soon as its own check ends, sleeping until the next feed is
due) and the delivery loop (`Deliverer.run`: a pass every second, and at once
when the poller queued rows; then the admin notices). APScheduler 3
(AsyncIOScheduler) runs the periodic jobs, each never overlapping itself and
beating the heartbeat when a tick starts: the release of held alerts as
digests when a mute, quiet hours or a digest schedule lets them go
(`bot.delivery.release.release_due`), the feed-health check (every minute:
notices to the admins when a feed fails or goes quiet, and when it recovers)
and retention (hourly: `prune_store`). A monitor task records the event loop's
lag (`bot.service.looplag`). SIGINT/SIGTERM stop new checks and passes, let
those in flight finish (up to a grace period) and close everything; a send
interrupted past the grace period stays leased in the outbox and is sent
after the lease expires, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.errors import StoreError
from bot.core.settings import Settings
from bot.core.waiting import first_of
from bot.delivery.release import release_due
from bot.pipeline.health import check_feed_health
from bot.pipeline.poll import poll_continuously
from bot.pipeline.subscribe import MAINTAIN_TICK_SECONDS
from bot.service.app import (
    App,
    admin_destinations,
    build_app,
    health_limits,
    prune_store,
    seed_feeds,
)
from bot.service.heartbeat import Heartbeat, scheduler_heartbeat
from bot.service.http import HttpServer
from bot.service.looplag import LoopLagMonitor
from bot.service.platforms import start_platforms

log = logging.getLogger(__name__)

POLL_TICK_MAX_SECONDS = 2.0
"""The poller sleeps until the next feed is due, but looks at least this often
(feeds added or released by another instance; an indexed query, cheap)."""
DELIVERY_TICK_SECONDS = 1.0
HEALTH_TICK_SECONDS = 60.0
PRUNE_TICK_SECONDS = 3600.0
RELEASE_TICK_SECONDS = 15.0
"""Held alerts go out within this long of their release time (digests, mute ends)."""
GRACE_SECONDS = 20.0


@dataclass
class InFlight:
    """Tracks running job coroutines so shutdown can wait for them."""

    tasks: set[asyncio.Task[object]] = field(default_factory=set)

    def wrap(self, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        name = getattr(job, "__name__", repr(job))

        async def tracked() -> None:
            task = asyncio.current_task()
            assert task is not None
            self.tasks.add(task)
            try:
                await job()
            except StoreError as err:  # the database out of reach: one line, not a traceback
                log.error("scheduled job %s failed: %s; it runs again on the next tick", name, err)
            except Exception:
                log.exception("scheduled job %s failed; it runs again on the next tick", name)
            finally:
                self.tasks.discard(task)

        return tracked

    async def drain(self, grace_seconds: float) -> None:
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=grace_seconds)


def poll_tick_seconds(settings: Settings) -> float:
    return min(settings.poll_interval, POLL_TICK_MAX_SECONDS)


def job_ticks(settings: Settings) -> dict[str, float]:
    """Each scheduled job's tick in seconds (the heartbeat's limits derive from them)."""
    ticks = {
        "poll": poll_tick_seconds(settings),
        "deliver": DELIVERY_TICK_SECONDS,
        "release": RELEASE_TICK_SECONDS,
        "health": HEALTH_TICK_SECONDS,
        "prune": PRUNE_TICK_SECONDS,
    }
    if settings.public_url:
        ticks["websub"] = MAINTAIN_TICK_SECONDS
    return ticks


def build_scheduler(app: App, in_flight: InFlight, heartbeat: Heartbeat) -> AsyncIOScheduler:
    """The periodic jobs; each starts at once, never overlaps itself and beats the heartbeat."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    ticks = job_ticks(app.settings)

    limits, admins = health_limits(app.settings), admin_destinations(app.settings)

    async def feed_health() -> None:
        heartbeat.beat("health")
        await check_feed_health(app.store, limits, admins, app.pipeline.clock())

    async def prune() -> None:
        heartbeat.beat("prune")
        await prune_store(app.store, app.settings, app.pipeline.clock())

    async def release() -> None:
        heartbeat.beat("release")
        await release_due(app.store, app.deliverer.clock())

    common = {"max_instances": 1, "coalesce": True, "next_run_time": datetime.now(UTC)}
    scheduler.add_job(
        in_flight.wrap(feed_health), "interval", seconds=ticks["health"], id="health", **common
    )
    scheduler.add_job(
        in_flight.wrap(prune), "interval", seconds=ticks["prune"], id="prune", **common
    )
    scheduler.add_job(
        in_flight.wrap(release), "interval", seconds=ticks["release"], id="release", **common
    )
    subscriber = app.subscriber
    if subscriber is not None:  # WebSub: renewals, retries, unsubscribes of removed feeds

        async def websub() -> None:
            heartbeat.beat("websub")
            await subscriber.maintain()

        scheduler.add_job(
            in_flight.wrap(websub),
            "interval",
            seconds=MAINTAIN_TICK_SECONDS,
            id="websub",
            **common,
        )
    return scheduler


def start_loops(app: App, stop: asyncio.Event, heartbeat: Heartbeat) -> list[asyncio.Task[None]]:
    """The poller and the delivery loop, running until `stop` is set."""
    ticks = job_ticks(app.settings)

    def poller() -> Awaitable[None]:
        return poll_continuously(
            app.pipeline, stop, max_wait_seconds=ticks["poll"], beat=lambda: heartbeat.beat("poll")
        )

    def deliverer() -> Awaitable[None]:
        return app.deliverer.run(
            stop,
            tick_seconds=ticks["deliver"],
            after_pass=app.notices.send_once,
            beat=lambda: heartbeat.beat("deliver"),
        )

    return [
        asyncio.create_task(keep_running("the poller", poller, stop)),
        asyncio.create_task(keep_running("the delivery loop", deliverer, stop)),
    ]


async def keep_running(name: str, loop: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run `loop` until `stop` is set, starting it again a second after a failure."""
    while not stop.is_set():
        try:
            await loop()
        except Exception:
            log.exception("%s failed; it starts again in 1 s", name)
            await first_of(stop, seconds=1.0)


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or until `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    app = await build_app(settings, migrate_apart=True)
    in_flight = InFlight()
    lag = LoopLagMonitor()
    lag.start()
    try:
        await seed_feeds(app)
        heartbeat = scheduler_heartbeat(job_ticks(settings))
        http = HttpServer(app, heartbeat)
        platforms = await start_platforms(app, http)
        await http.start(settings.http_host, settings.http_port)
        scheduler = build_scheduler(app, in_flight, heartbeat)
        scheduler.start()
        loops = start_loops(app, stop, heartbeat)
        log.info(
            "newswatch running: %d feeds, %d rules, http on %s:%d",
            len(await app.store.list_feeds()),
            len(app.rulebook.rules),
            settings.http_host,
            http.port,
        )
        await stop.wait()
        log.info("stopping: waiting up to %.0f s for running jobs", GRACE_SECONDS)
        scheduler.pause()
        await asyncio.wait([*loops, *in_flight.tasks], timeout=GRACE_SECONDS)
        for task in loops:
            task.cancel()
        scheduler.shutdown(wait=False)
        await http.stop()  # first: no Slack or webhook request may reach a stopped front-end
        await platforms.stop()
    finally:
        await app.close()
        await lag.stop()
