"""End to end, WebSub: a feed that names a hub is pushed to us, through the real service.

In-process, over real loopback HTTP: `build_app` on SQLite with
NEWSWATCH_PUBLIC_URL pointing at the real `HttpServer`, the feed on a
`FeedServer`, a `LoopbackHub` behaving like a real hub (202, then an intent
verification GET with a random challenge, then signed pushes), and the Telegram
notifier posting to the loopback Bot API stand-in. The poll, the delivery loop
and the `websub` job (`Subscriber.maintain`) are driven as the scheduler
drives them; the clock is real time plus an offset the tests move.

discovery (atom:link rel=hub/self) → subscribe → verification → signed push →
exactly one alert → forged and unsigned pushes → nothing → safety-net polling
→ renewal → the feed removed → the unsubscribe reaches the hub.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core.model import ALL_RULES, Destination, PushState, PushSubscription
from bot.core.settings import load_settings
from bot.delivery.ratelimit import telegram_limiter
from bot.pipeline.fetch.websub import SAFETY_NET_SECONDS
from bot.pipeline.health import feed_list_lines
from bot.pipeline.poll import poll_once
from bot.pipeline.subscribe import Subscriber
from bot.platforms.telegram.notifier import TelegramNotifier
from bot.service.app import App, build_app
from bot.service.heartbeat import scheduler_heartbeat
from bot.service.http import HttpServer
from bot.service.run import InFlight, build_scheduler, job_ticks
from tests.support.cli import run_cli
from tests.support.fake_telegram import FakeTelegramApi, PostedMessage, parse_telegram_html
from tests.support.feed_server import FeedServer
from tests.support.waiting import ShiftedClock
from tests.support.websub_hub import LoopbackHub

RULES = Path(__file__).resolve().parent / "data" / "e2e-rules.yaml"
CHAT = 4242


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    """The running service, its stand-ins and the feed the tests publish to."""

    hub: LoopbackHub
    feeds: FeedServer
    api: FakeTelegramApi
    app: App
    http: HttpServer
    clock: ShiftedClock
    items: list[tuple[str, str, datetime]] = field(default_factory=list)
    hub_url: str | None = None

    @property
    def subscriber(self) -> Subscriber:
        assert self.app.subscriber is not None
        return self.app.subscriber

    @property
    def feed_url(self) -> str:
        return self.feeds.url("/wire.xml")

    def feed_body(self, *items: tuple[str, str, datetime]) -> bytes:
        """An RSS feed naming the hub (atom:link rel=hub) and its topic (rel=self)."""
        links = ""
        if self.hub_url is not None:
            links = (
                f'<atom:link rel="hub" href="{self.hub_url}"/>'
                f'<atom:link rel="self" href="{self.feed_url}"/>'
            )
        entries = "".join(
            f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{format_datetime(when)}</pubDate></item>"
            for title, link, when in items
        )
        return (
            '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
            f"<channel><title>Wire</title>{links}{entries}</channel></rss>"
        ).encode()

    def story(self, title: str) -> tuple[str, str, datetime]:
        n = len(self.items) + 1
        return title, f"https://wire.example/{n}", self.clock()

    def serve(self) -> None:
        self.feeds.serve_bytes("/wire.xml", self.feed_body(*self.items))

    async def poll(self) -> None:
        """Make the feed due, poll once, and let the subscribe requests and the hub's
        verifications finish."""
        for health in await self.app.store.list_feeds():
            state = replace(health.state, next_poll_at=self.clock())
            await self.app.store.save_feed_state(health.feed.id, state)
        await poll_once(self.app.pipeline)
        await self.settle()

    async def settle(self) -> None:
        if self.app.subscriber is not None:
            await self.app.subscriber.settle()
        await self.hub.settle()

    async def maintain(self) -> None:
        """One run of the scheduler's `websub` job, then the hub's verifications."""
        await self.subscriber.maintain()
        await self.settle()

    async def deliver(self, passes: int = 3) -> None:
        for _ in range(passes):
            await self.app.deliverer.deliver_once()

    def alerts(self) -> list[PostedMessage]:
        return [m for m in self.api.messages if m.chat_id == CHAT]

    async def subscription(self) -> PushSubscription:
        [sub] = await self.app.store.push_subscriptions()
        return sub


@asynccontextmanager
async def websub_world(
    tmp_path: Path, *, public: bool = True, hub_named: bool = True, **settings: Any
) -> AsyncIterator[World]:
    """The service with one feed (naming the hub unless `hub_named` is False) and a
    Telegram chat subscribed to every rule; NEWSWATCH_PUBLIC_URL set unless `public`
    is False. `settings` override the others."""
    port = free_port()
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path}/websub.db",
        "rules_file": RULES,
        "allow_private_networks": True,
        "poll_interval": 60,
        "feeds_file": None,
        "semantic": "off",
        "http_host": "127.0.0.1",
        "http_port": port,
        "public_url": f"http://127.0.0.1:{port}/" if public else None,
        **settings,
    }
    async with LoopbackHub() as hub, FeedServer() as feeds, FakeTelegramApi() as api:
        clock = ShiftedClock()
        notifier = TelegramNotifier(api.token, base_url=api.base_url, limiter=telegram_limiter())
        app = await build_app(
            load_settings(overrides=values), notifiers={"telegram": notifier}, clock=clock
        )
        http = HttpServer(app)
        await http.start("127.0.0.1", port)
        world = World(hub, feeds, api, app, http, clock, hub_url=hub.url if hub_named else None)
        world.items.append(world.story("Markets open higher"))
        world.serve()
        await app.store.add_feed(world.feed_url, "wire")
        await app.store.subscribe(Destination("telegram", str(CHAT)), [ALL_RULES], actor="test")
        try:
            yield world
        finally:
            await http.stop()
            await app.close()


async def test_a_feed_naming_a_hub_is_pushed_renewed_and_unsubscribed(tmp_path: Path) -> None:
    async with websub_world(tmp_path) as world:
        hub = world.hub
        # discovery → subscribe → the hub verifies our intent
        await world.poll()
        [subscribe] = hub.requests_of("subscribe")
        assert subscribe["hub.topic"] == world.feed_url
        assert subscribe["hub.callback"].startswith(f"http://127.0.0.1:{world.http.port}/websub/")
        assert len(subscribe["hub.secret"]) >= 32
        assert [(v.mode, v.echoed) for v in hub.verifications] == [("subscribe", True)]
        sub = await world.subscription()
        assert sub.state is PushState.ACTIVE and sub.lease_seconds == hub.lease_seconds
        assert sub.secret == subscribe["hub.secret"]
        [listed] = await feed_list_lines(world.app.store)
        assert "push: active until" in listed

        # a signed push → exactly one alert
        world.items.append(world.story("Iran opens talks on its nuclear programme"))
        assert await hub.publish(world.feed_url, world.feed_body(*world.items)) == [202]
        await world.deliver()
        [alert] = world.alerts()
        assert "Iran opens talks" in parse_telegram_html(alert.text)

        # the same push again, a forged one and an unsigned one → nothing more
        forged = [*world.items, world.story("Iran forged story")]
        unsigned = [*world.items, world.story("Iran unsigned story")]
        assert await hub.publish(world.feed_url, world.feed_body(*world.items)) == [202]
        assert await hub.publish(world.feed_url, world.feed_body(*forged), forge=True) == [202]
        assert await hub.publish(world.feed_url, world.feed_body(*unsigned), unsigned=True) == [202]
        await world.deliver()
        assert len(world.alerts()) == 1

        # the feed is still polled, as a safety net: at most every 15 minutes
        world.serve()
        await world.poll()
        [health] = await world.app.store.list_feeds()
        assert health.state.interval_seconds == SAFETY_NET_SECONDS
        assert health.state.last_status == 200
        assert len(world.alerts()) == 1  # the polled copy of the pushed story is known
        assert len(hub.requests_of("subscribe")) == 1  # no second subscription

        # renewal when less than ~10 % of the lease (at least half, for a 1 h lease) is left
        await world.maintain()
        assert len(hub.requests_of("subscribe")) == 1  # not yet
        world.clock.offset += timedelta(seconds=hub.lease_seconds * 0.6)
        await world.maintain()
        assert len(hub.requests_of("subscribe")) == 2
        renewed = await world.subscription()
        assert renewed.state is PushState.ACTIVE
        assert renewed.lease_expires_at is not None and sub.lease_expires_at is not None
        assert renewed.lease_expires_at > sub.lease_expires_at + timedelta(minutes=30)
        assert renewed.callback_id == sub.callback_id and renewed.secret == sub.secret

        # the feed removed (what `feeds remove` and chat `feed rm` call) → unsubscribed
        await world.app.store.remove_feed(world.feed_url)
        await world.maintain()
        [unsubscribe] = hub.requests_of("unsubscribe")
        assert unsubscribe["hub.callback"] == subscribe["hub.callback"]
        assert hub.verifications[-1].mode == "unsubscribe" and hub.verifications[-1].echoed
        assert hub.subscribers == {}
        assert await world.app.store.push_subscriptions() == []
        # a late push for the forgotten callback is refused
        statuses = await world.hub.publish(world.feed_url, world.feed_body(*world.items))
        assert statuses == []


async def test_without_a_public_url_nothing_is_subscribed(tmp_path: Path) -> None:
    async with websub_world(tmp_path, public=False) as world:
        assert world.app.subscriber is None
        await world.poll()
        assert world.hub.requests == []
        assert await world.app.store.push_subscriptions() == []
        [health] = await world.app.store.list_feeds()
        assert health.state.interval_seconds == 60


async def test_a_feed_without_a_hub_is_only_polled(tmp_path: Path) -> None:
    async with websub_world(tmp_path, hub_named=False) as world:
        await world.poll()
        await world.poll()
        assert world.hub.requests == []
        assert await world.app.store.push_subscriptions() == []


async def test_the_hub_named_in_a_link_header_is_used(tmp_path: Path) -> None:
    async with websub_world(tmp_path, hub_named=False) as world:
        link = f'<{world.hub.url}>; rel="hub", <{world.feed_url}>; rel="self"'
        world.feeds.serve_bytes("/wire.xml", world.feed_body(*world.items), headers={"Link": link})
        await world.poll()
        [subscribe] = world.hub.requests_of("subscribe")
        assert subscribe["hub.topic"] == world.feed_url
        assert (await world.subscription()).state is PushState.ACTIVE


async def test_the_scheduler_runs_the_websub_job_only_with_a_public_url(tmp_path: Path) -> None:
    for public in (True, False):
        async with websub_world(tmp_path / str(public), public=public) as world:
            heartbeat = scheduler_heartbeat(job_ticks(world.app.settings))
            scheduler = build_scheduler(world.app, InFlight(), heartbeat)
            job = scheduler.get_job("websub")
            assert (job is not None) == public
            if job is not None:
                await world.poll()
                await job.func()  # the job as the scheduler runs it: a maintain pass
                assert (await world.subscription()).state is PushState.ACTIVE
                assert "websub" in heartbeat.ages()  # /healthz watches it too


async def test_the_command_line_lists_push_status_and_a_removal_unsubscribes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`newswatch feeds list` / `feeds remove` on the service's database while it runs;
    the service's websub job then unsubscribes the removed feed."""
    async with websub_world(tmp_path) as world:
        await world.poll()
        for name in ("NEWSWATCH_CONFIG", "NEWSWATCH_RULES_FILE", "NEWSWATCH_PUBLIC_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("NEWSWATCH_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("NEWSWATCH_DATABASE_URL", world.app.settings.effective_database_url)
        code, out, _ = await asyncio.to_thread(run_cli, capsys, "feeds", "list")
        assert code == 0 and "push: active until " in out and world.hub.url in out
        code, out, _ = await asyncio.to_thread(run_cli, capsys, "feeds", "remove", "wire")
        assert code == 0 and out.startswith("removed feed 1: wire")
        await world.maintain()
        assert len(world.hub.requests_of("unsubscribe")) == 1
        assert world.hub.subscribers == {}
        assert await world.app.store.push_subscriptions() == []


async def test_another_instance_on_the_same_database_takes_the_push(tmp_path: Path) -> None:
    """Subscription state lives in the store: a push that reaches a second instance
    (behind one load balancer) is verified with the secret the first one chose."""
    async with websub_world(tmp_path) as world:
        await world.poll()
        sub = await world.subscription()
        port = free_port()
        other_settings = world.app.settings.model_copy(
            update={"http_port": port, "public_url": f"http://127.0.0.1:{port}"}
        )
        other = await build_app(other_settings, notifiers={}, clock=world.clock)
        other_http = HttpServer(other)
        await other_http.start("127.0.0.1", port)
        try:
            body = world.feed_body(*world.items, world.story("Iran news via instance two"))
            signature = "sha256=" + hmac.new(sub.secret.encode(), body, hashlib.sha256).hexdigest()
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    f"http://127.0.0.1:{port}/websub/{sub.callback_id}",
                    content=body,
                    headers={"X-Hub-Signature": signature},
                )
            assert answer.status_code == 202
        finally:
            await other_http.stop()
            await other.close()
        await world.deliver()  # the first instance delivers what the second queued
        [alert] = world.alerts()
        assert "instance two" in parse_telegram_html(alert.text)
