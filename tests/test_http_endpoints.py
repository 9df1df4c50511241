"""`/metrics` and `/healthz` over real HTTP, on a real app after real polls.

The metrics registry is one per process (as in production), so counters are
compared before and after the work a test does, never as absolute values.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from bot.core.model import ALL_RULES, Destination
from bot.core.settings import load_settings
from bot.pipeline.poll import poll_once
from bot.platforms.console import ConsoleNotifier
from bot.service.app import App, build_app
from bot.service.heartbeat import STALE_FLOOR_SECONDS, Heartbeat, scheduler_heartbeat
from bot.service.http import HttpServer
from tests.support.data import FEEDS
from tests.support.feed_server import FeedServer

NPR_WITH_IRAN = FEEDS / "npr" / "npr-news-2024-04-14T0120Z.xml"  # three matching titles
RULES = Path(__file__).resolve().parent / "data" / "e2e-rules.yaml"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Monotonic:
    seconds: float = 1000.0

    def __call__(self) -> float:
        return self.seconds


async def make_app(tmp_path: Path, clock: Clock) -> App:
    settings = load_settings(
        overrides={
            "data_dir": tmp_path,
            "database_url": f"sqlite:///{tmp_path}/db/newswatch.db",
            "rules_file": RULES,
            "allow_private_networks": True,
            "poll_interval": 60,
            "feeds_file": None,
            "semantic": "off",
        }
    )
    (tmp_path / "db").mkdir()
    return await build_app(
        settings, notifiers={"console": ConsoleNotifier(stream=io.StringIO())}, clock=clock
    )


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[App, FeedServer, httpx.AsyncClient]]:
    """An app with one feed and a console subscriber, its HTTP server, and a client for it."""
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    async with FeedServer() as feeds:
        feeds.serve_file("/npr.xml", NPR_WITH_IRAN, etag='"one"')
        app = await make_app(tmp_path, clock)
        await app.store.add_feed(feeds.url("/npr.xml"), "npr", backfill=20)
        await app.store.subscribe(Destination("console", "desk"), [ALL_RULES], actor="test")
        http = HttpServer(app)
        await http.start("127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http.port}") as client:
                yield app, feeds, client
        finally:
            await http.stop()
            await app.close()


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_the_pipeline_and_show_the_current_state(
    served: tuple[App, FeedServer, httpx.AsyncClient],
) -> None:
    app, feeds, client = served
    before = await scrape(client)
    report = await poll_once(app.pipeline)
    delivered = await app.deliverer.deliver_pending()
    assert report.alerts > 0 and delivered.sent > 0, "the test feed must alert"
    app.pipeline.clock.now += timedelta(hours=12)  # type: ignore[attr-defined]
    second = await poll_once(app.pipeline)  # same ETag: a 304
    assert second.not_modified == 1
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("newswatch_fetches_total", outcome="fetched") == 1
    assert grew("newswatch_fetches_total", outcome="not_modified") == 1
    assert grew("newswatch_fetches_total", outcome="failed") == 0
    assert grew("newswatch_stories_total") == report.new_stories
    assert grew("newswatch_alerts_total") == report.alerts
    assert grew("newswatch_deliveries_total", platform="console", outcome="sent") == delivered.sent
    assert grew("newswatch_fetch_seconds_count") == 2
    assert grew("newswatch_poll_seconds_count") == 2
    assert grew("newswatch_match_seconds_count") >= report.alerts
    assert grew("newswatch_delivery_seconds_count") == delivered.sent
    for since in ("first_seen", "published"):
        assert grew("newswatch_alert_latency_seconds_count", since=since) == delivered.sent
    assert grew("newswatch_alert_latency_seconds_sum", since="first_seen") == 0  # one clock
    assert grew("newswatch_alert_latency_seconds_sum", since="published") > 0
    assert value(after, "newswatch_feeds") == 1
    assert value(after, "newswatch_feeds_failing") == 0
    assert value(after, "newswatch_outbox_pending") == 0
    assert value(after, "newswatch_rules") == len(app.rulebook.rules) > 0
    assert value(after, "newswatch_rules_invalid") == 0
    assert value(after, "process_resident_memory_bytes") > 0
    assert feeds.hits["/npr.xml"] == 2


async def test_failed_fetches_and_failing_feeds_are_counted(
    served: tuple[App, FeedServer, httpx.AsyncClient],
) -> None:
    app, feeds, client = served
    feeds.fail("/npr.xml", status=500)
    before = await scrape(client)
    for _ in range(3):
        await poll_once(app.pipeline)
        app.pipeline.clock.now += timedelta(days=2)  # type: ignore[attr-defined]
    after = await scrape(client)
    failed = ("newswatch_fetches_total", (("outcome", "failed"),))
    assert after[failed] - before.get(failed, 0.0) == 3
    assert value(after, "newswatch_feeds_failing") == 1


async def test_healthz_is_ok_while_the_heartbeat_is_fresh_then_503_with_the_reason(
    tmp_path: Path,
) -> None:
    monotonic = Monotonic()
    heartbeat = Heartbeat({"poll": 300.0, "deliver": 300.0}, clock=monotonic)
    app = await make_app(tmp_path, Clock(datetime(2026, 1, 1, tzinfo=UTC)))
    http = HttpServer(app, heartbeat)
    await http.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http.port}") as client:
            await poll_once(app.pipeline)
            monotonic.seconds += 200
            heartbeat.beat("deliver")
            ok = await client.get("/healthz")
            assert ok.status_code == 200, ok.text
            assert ok.json()["status"] == "ok"
            assert ok.json()["last_poll"] == "2026-01-01T00:00:00+00:00"
            assert ok.json()["ticks_ago_seconds"] == {"poll": 200.0, "deliver": 0.0}

            monotonic.seconds += 150  # poll: 350 s without a tick; deliver: 150 s
            stale = await client.get("/healthz")
            assert stale.status_code == 503
            assert stale.json()["status"] == "unhealthy"
            assert stale.json()["problems"] == ["scheduler: no poll tick for 350 s (limit 300 s)"]

            heartbeat.beat("poll")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await http.stop()
        await app.close()


async def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    app = await make_app(tmp_path, Clock(datetime(2026, 1, 1, tzinfo=UTC)))
    http = HttpServer(app, scheduler_heartbeat({"poll": 30.0}))
    await http.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http.port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            await app.store.close()  # drop the pooled connections…
            shutil.rmtree(tmp_path / "db")  # …so the next one finds no database
            down = await client.get("/healthz")
            assert down.status_code == 503
            (problem,) = down.json()["problems"]
            assert problem.startswith("database: ") and "\n" not in problem
    finally:
        await http.stop()
        await app.close()


def test_a_job_is_never_stale_before_the_floor() -> None:
    heartbeat = scheduler_heartbeat({"poll": 30.0, "deliver": 1.0})
    assert heartbeat.stale_after == {"poll": STALE_FLOOR_SECONDS, "deliver": STALE_FLOOR_SECONDS}
    assert scheduler_heartbeat({"poll": 60.0}).stale_after == {"poll": 600.0}
