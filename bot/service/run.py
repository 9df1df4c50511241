"""`newswatch run`: the scheduler, the HTTP server and the chat platforms.

APScheduler 3 (AsyncIOScheduler) runs these jobs, each never overlapping
itself and each beating the heartbeat that `/healthz` reads when a tick starts:
the poll tick (`poll_once`), the delivery loop (`Deliverer.deliver_once`, then
the admin notices), the release of held alerts as digests when a mute, quiet
hours or a digest schedule lets them go (`bot.delivery.release.release_due`),
the feed-health check (every minute: notices to the admins when a feed fails or
goes quiet, and when it recovers) and retention (hourly: `prune_store`).
A monitor task records the event loop's lag (`bot.service.looplag`).
SIGINT/SIGTERM stop new runs, let in-flight runs finish (up to a grace period)
and close everything; a send interrupted past the grace period stays leased in
the outbox and is sent after the lease expires, never lost.
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

from bot.core.settings import Settings
from bot.delivery.release import release_due
from bot.pipeline.health import check_feed_health
from bot.pipeline.poll import poll_once
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
"""Look for due feeds at least this often: a feed's check starts at most this
long after its slot (an indexed query on the store; cheap)."""
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
        async def tracked() -> None:
            task = asyncio.current_task()
            assert task is not None
            self.tasks.add(task)
            try:
                await job()
            except Exception:
                log.exception("scheduled job %s failed; it runs again on the next tick", job)
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
    return {
        "poll": poll_tick_seconds(settings),
        "deliver": DELIVERY_TICK_SECONDS,
        "release": RELEASE_TICK_SECONDS,
        "health": HEALTH_TICK_SECONDS,
        "prune": PRUNE_TICK_SECONDS,
    }


def build_scheduler(app: App, in_flight: InFlight, heartbeat: Heartbeat) -> AsyncIOScheduler:
    """The jobs; each starts at once, never overlaps itself and beats the heartbeat."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    ticks = job_ticks(app.settings)

    async def poll() -> None:
        heartbeat.beat("poll")
        report = await poll_once(app.pipeline)
        if report.feeds_polled:
            log.info(
                "polled %d feeds: %d new stories, %d alerts, %d failed",
                report.feeds_polled,
                report.new_stories,
                report.alerts,
                report.feeds_failed,
            )

    async def deliver() -> None:
        heartbeat.beat("deliver")
        await app.deliverer.deliver_once()
        await app.notices.send_once()

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
    scheduler.add_job(in_flight.wrap(poll), "interval", seconds=ticks["poll"], id="poll", **common)
    scheduler.add_job(
        in_flight.wrap(deliver), "interval", seconds=ticks["deliver"], id="deliver", **common
    )
    scheduler.add_job(
        in_flight.wrap(feed_health), "interval", seconds=ticks["health"], id="health", **common
    )
    scheduler.add_job(
        in_flight.wrap(prune), "interval", seconds=ticks["prune"], id="prune", **common
    )
    scheduler.add_job(
        in_flight.wrap(release), "interval", seconds=ticks["release"], id="release", **common
    )
    if app.subscriber is not None:  # WebSub: renewals, retries, unsubscribes of removed feeds
        scheduler.add_job(
            in_flight.wrap(app.subscriber.maintain),
            "interval",
            seconds=MAINTAIN_TICK_SECONDS,
            id="websub",
            **common,
        )
    return scheduler


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or until `stop` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    app = await build_app(settings)
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
        await in_flight.drain(GRACE_SECONDS)
        scheduler.shutdown(wait=False)
        await http.stop()  # first: no Slack or webhook request may reach a stopped front-end
        await platforms.stop()
    finally:
        await app.close()
        await lag.stop()
