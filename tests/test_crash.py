"""Crash and fault tests (issue 11): the real service killed, doubled and cut off.

Each scenario runs `newswatch run` (`python -m bot run`, configured by
environment variables only) against the fake Telegram Bot API and a feed on
loopback. The feed has two matching stories and N Telegram chats subscribe to
every rule, so one poll queues 2 × N alerts; the service's own Telegram
limiter sends them at 25/s, so delivery lasts long enough to be interrupted.

- `sigkill_during_delivery`: SIGKILL at random moments during delivery of
  1,000 alerts, 20 times, on SQLite; each kill is followed by a restart.
- `two_instances_killed`: two instances on one PostgreSQL database, either of
  them killed at random and restarted while the other carries on.
- `database_outage`: the PostgreSQL server going away mid-poll and again
  mid-delivery, played by a loopback TCP proxy (tests/support/tcp_proxy.py)
  that cuts every connection and refuses new ones for a few seconds. The
  shared server itself is never touched.

What every scenario must show:

- nothing lost: every queued alert reaches Telegram at least once, and the
  outbox ends empty with no dead letters;
- duplicates only for messages in flight at a fault: an alert has a second
  copy only when its earlier copy came from an instance life that was then
  killed (or cut off from its database), and there are at most faults ×
  delivery concurrency of them;
- back at work within a lease: each restarted instance sends again within
  NEWSWATCH_LEASE_SECONDS (plus the one-second delivery tick) of the kill —
  at once when unleased rows wait, else when the dead life's leases expire;
  after an outage, the service sends again within a lease (plus the poller's
  two-second look for due feeds) of the database coming back.

Each instance life gets its own Bot API base URL (`base_url_for`), so the
fake knows which life sent each message. Timings are measured, not asserted,
except the lease bound, which is the property under test. Figures of a run:
benchmarks/crash.md (benchmarks/bench_crash.py runs these scenarios).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import random
import re
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.core.errors import StoreError
from bot.core.model import ALL_RULES, Destination
from bot.delivery.loop import Deliverer, DeliveryPolicy
from bot.service.run import DELIVERY_TICK_SECONDS, POLL_TICK_MAX_SECONDS
from bot.store import open_store
from bot.store.engine import database_url
from tests.support.fake_telegram import FakeTelegramApi
from tests.support.feed_server import FeedServer
from tests.support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:CRASH-TOKEN"
SHORT_LEASE = 10.0
"""NEWSWATCH_LEASE_SECONDS with one instance at a time: the shortest allowed."""
LEASE = 15.0
"""NEWSWATCH_LEASE_SECONDS beside another instance: well over a delivery pass
(200 alerts at 25/s, 8 s), so a live instance's claimed rows are never taken."""
RESTART_BOUND = DELIVERY_TICK_SECONDS
"""After a kill, the next pass starts at most this long after the leases expire."""
IN_FLIGHT_GRACE = 1.0
"""Generous: sends already on the wire when the database goes away end within this."""
OUTAGE_BOUND = POLL_TICK_MAX_SECONDS
"""After an outage, the poller looks for the released feed at most this long after."""
FETCH_TIMEOUT_SECONDS = 5.0
CONCURRENCY = DeliveryPolicy().concurrency
"""Rows one delivery pass sends at once: the most a kill can catch in flight."""
FIRST_CHAT = 10_000
FEED_PATH = "/crash.xml"
STORIES = {
    "rotterdam": "Crashtest: harbour cranes halt shipping in Rotterdam after the storm",
    "iceland": "Crashtest: volcanic ash grounds every flight across Iceland",
}
"""Slug (in the link, so in each alert) → title; the rule matches both titles."""
RULES = """rules:
  - name: crashtest
    description: the crash-test stories
    query: 'title:crashtest'
"""
DONE_TIMEOUT = 300.0
"""Generous: how long every alert may take to arrive (about 45 s on a quiet box)."""
POSTGRES_URL_VARIABLE = "NEWSWATCH_TEST_POSTGRES_URL"
POSTGRES_SKIP_REASON = f"set {POSTGRES_URL_VARIABLE} to run the PostgreSQL crash tests"

_CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("crash_client", default="")


# ── the fake Bot API, recording which life sent each message ─────────────────


@dataclass(frozen=True, slots=True)
class Received:
    """One accepted sendMessage: from which instance life, to which chat, which story."""

    life: str
    chat_id: int
    story: str
    at: float


class RecordingTelegram(FakeTelegramApi):
    """FakeTelegramApi with generous limits that records each message's sender.

    The limits are 10,000/s overall and none per chat, so only the service's
    own limiter (25/s) paces delivery and a resent alert is never refused.
    """

    def __init__(self) -> None:
        super().__init__(TOKEN, per_chat_interval=0.0, global_per_second=10_000)
        self.received: list[Received] = []

    async def __aenter__(self) -> RecordingTelegram:
        await self.start()
        return self

    async def _handle(self, request: web.Request) -> web.Response:
        _CLIENT.set(request.match_info.get("client", ""))
        return await super()._handle(request)

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        answer = super()._send_message(params)
        body = str(params.get("text", "")).lower()
        story = next((slug for slug in STORIES if slug in body), "?")
        self.received.append(
            Received(_CLIENT.get(), int(params["chat_id"]), story, time.monotonic())
        )
        return answer

    def first_from(self, life: str) -> float | None:
        """When the first message from `life` arrived (monotonic), if one did."""
        return next((r.at for r in self.received if r.life == life), None)

    def delivered(self) -> set[tuple[int, str]]:
        return {(r.chat_id, r.story) for r in self.received}


# ── instance lives ───────────────────────────────────────────────────────────


@dataclass(eq=False)
class Life:
    """One run of one instance, from start to kill (or stop)."""

    name: str
    proc: asyncio.subprocess.Process
    started: float
    log: Path
    faulted: bool = False
    """Killed, or cut off from its database, while delivering."""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Launcher:
    """Starts, kills and stops `newswatch run` processes; one log file per life."""

    env: dict[str, str]
    telegram: RecordingTelegram
    logs: Path
    lives: list[Life] = field(default_factory=list)

    async def start(self, name: str) -> Life:
        log = self.logs / f"{name}.log"
        env = {**self.env, "TELEGRAM_API_BASE_URL": self.telegram.base_url_for(name)}
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run",
                cwd=ROOT, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        life = Life(name, proc, time.monotonic(), log)
        self.lives.append(life)
        return life

    async def kill(self, life: Life) -> None:
        """SIGKILL, and wait until the process is gone."""
        life.faulted = True
        life.proc.kill()
        await life.proc.wait()

    async def stop(self, life: Life) -> int:
        """SIGTERM; the exit code."""
        life.proc.terminate()
        return await asyncio.wait_for(life.proc.wait(), timeout=60)

    async def back_at_work(self, life: Life, *, within: float) -> float:
        """Seconds from the life's start to its first message; fails after `within`."""

        def sent_or_exited() -> bool:
            return (
                self.telegram.first_from(life.name) is not None or life.proc.returncode is not None
            )

        await wait_for(sent_or_exited, within, f"{life.name} to send within {within:g} s")
        first = self.telegram.first_from(life.name)
        assert first is not None, f"{life.name} exited ({life.proc.returncode}):\n{life.tail()}"
        return first - life.started

    async def close(self) -> None:
        """Kill whatever still runs (after a failure)."""
        for life in self.lives:
            if life.proc.returncode is None:
                life.proc.kill()
                await life.proc.wait()


async def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# ── the queue: a feed, a rule, N subscribed chats ────────────────────────────


def chat_ids(chats: int) -> range:
    return range(FIRST_CHAT, FIRST_CHAT + chats)


def expected_alerts(chats: int) -> set[tuple[int, str]]:
    return {(chat, slug) for chat in chat_ids(chats) for slug in STORIES}


def feed_body(now: datetime) -> bytes:
    """An RSS feed of the two stories, published in the last minutes."""
    items = "".join(
        f"<item><title>{title}</title><link>https://news.example/{slug}</link>"
        f"<guid>https://news.example/{slug}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=3 * n))}</pubDate>"
        f"<description>{title}.</description></item>"
        for n, (slug, title) in enumerate(STORIES.items())
    )
    channel = f"<title>Crash desk</title><link>https://news.example/</link>{items}"
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{channel}</channel></rss>'.encode()


async def prepare(database: str, feed_url: str, chats: int) -> None:
    """Migrate the database, add the feed (alerting its two stories) and subscribe the chats."""
    store = await open_store(database)
    try:
        await store.add_feed(feed_url, "crash desk", backfill=len(STORIES))
        for chat in chat_ids(chats):
            await store.subscribe(Destination("telegram", str(chat)), [ALL_RULES], actor="test")
    finally:
        await store.close()


def service_env(data_dir: Path, database: str, lease: float) -> dict[str, str]:
    """The environment of every instance: only our settings, none inherited."""
    ours = ("NEWSWATCH_", "TELEGRAM_", "SLACK_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(ours)}
    (data_dir / "rules.yaml").write_text(RULES)
    return env | {
        "NEWSWATCH_DATA_DIR": str(data_dir),
        "NEWSWATCH_DATABASE_URL": database,
        "NEWSWATCH_FEEDS_FILE": "",
        "NEWSWATCH_RULES_FILE": str(data_dir / "rules.yaml"),
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWATCH_HTTP_PORT": "0",
        "NEWSWATCH_SEMANTIC": "off",
        "NEWSWATCH_LEASE_SECONDS": f"{lease:g}",
        "NEWSWATCH_FETCH_TIMEOUT": f"{FETCH_TIMEOUT_SECONDS:g}",
        "TELEGRAM_BOT_TOKEN": TOKEN,
    }


async def wait_until_settled(database: str, telegram: RecordingTelegram, chats: int) -> None:
    """Every alert received and the outbox empty (nothing leased or waiting)."""
    expected = expected_alerts(chats)
    await wait_for(lambda: expected <= telegram.delivered(), DONE_TIMEOUT, "every alert")
    store = await open_store(database, migrate=False)
    try:
        deadline = time.monotonic() + DONE_TIMEOUT
        while await store.outbox_pending():
            assert time.monotonic() < deadline, "timed out waiting for an empty outbox"
            await asyncio.sleep(0.2)
        assert await store.dead_letters() == [], "an alert was dead-lettered"
    finally:
        await store.close()


# ── what each scenario reports and must hold ─────────────────────────────────


@dataclass(frozen=True, slots=True)
class Outcome:
    """The figures of one scenario run (benchmarks/crash.md)."""

    scenario: str
    lease: float
    bound: float
    """What back to work may take: the lease plus a tick."""
    faults: int
    alerts: int
    received: int
    duplicates: int
    lost: int
    back_to_work: tuple[float, ...]
    """Seconds from each restart (or the database's return) to its first message."""
    seconds: float

    def line(self) -> str:
        worst = max(self.back_to_work, default=0.0)
        return (
            f"{self.scenario}: {self.faults} faults, {self.alerts} alerts, "
            f"{self.received} messages, {self.duplicates} duplicates, {self.lost} lost, "
            f"back to work in ≤ {worst:.1f} s, {self.seconds:.0f} s in all"
        )


def outcome(
    scenario: str,
    telegram: RecordingTelegram,
    lives: Iterable[Life],
    *,
    lease: float,
    bound: float,
    chats: int,
    faults: int,
    back_to_work: Iterable[float],
    began: float,
) -> Outcome:
    """Tally what the fake received, and check the duplicate rule."""
    copies: dict[tuple[int, str], list[str]] = defaultdict(list)
    for message in telegram.received:
        copies[(message.chat_id, message.story)].append(message.life)
    expected = expected_alerts(chats)
    assert copies.keys() <= expected, f"unexpected messages: {sorted(copies.keys() - expected)[:5]}"
    faulted = {life.name for life in lives if life.faulted}
    for key, senders in copies.items():
        early = [sender for sender in senders[:-1] if sender not in faulted]
        assert not early, f"{key} sent {len(senders)} times, first by {early} (not in flight)"
    return Outcome(
        scenario,
        lease,
        bound,
        faults,
        alerts=len(expected),
        received=len(telegram.received),
        duplicates=sum(len(senders) - 1 for senders in copies.values()),
        lost=len(expected - copies.keys()),
        back_to_work=tuple(back_to_work),
        seconds=time.monotonic() - began,
    )


def check(result: Outcome) -> None:
    print(result.line())
    assert result.lost == 0
    assert result.duplicates <= result.faults * CONCURRENCY
    assert all(seconds < result.bound for seconds in result.back_to_work), result.back_to_work


# ── 1. SIGKILL during delivery, on SQLite ────────────────────────────────────


async def sigkill_during_delivery(
    tmp: Path,
    *,
    kills: int = 20,
    chats: int = 500,
    seed: int = 11,
    max_delay: float = 1.5,
    lease: float = SHORT_LEASE,
) -> Outcome:
    """Kill the one instance `kills` times at random moments while it delivers
    2 × `chats` alerts, restarting it each time."""
    rng = random.Random(seed)
    database = f"sqlite:///{tmp / 'crash.db'}"
    expected = len(expected_alerts(chats))
    async with FeedServer() as feeds, RecordingTelegram() as telegram:
        feeds.serve_bytes(FEED_PATH, feed_body(datetime.now(UTC)), etag='"crash"')
        await prepare(database, feeds.url(FEED_PATH), chats)
        launcher = Launcher(service_env(tmp, database, lease), telegram, tmp)
        began = time.monotonic()
        restarts: list[float] = []
        try:
            life = await launcher.start("life-0")
            await launcher.back_at_work(life, within=DONE_TIMEOUT)  # the first poll
            for kill in range(1, kills + 1):
                await asyncio.sleep(rng.uniform(0, max_delay))
                done = len(telegram.delivered())
                assert done < expected, f"all delivered before kill {kill}: kill sooner"
                await launcher.kill(life)
                life = await launcher.start(f"life-{kill}")
                restarts.append(await launcher.back_at_work(life, within=lease + RESTART_BOUND))
            await wait_until_settled(database, telegram, chats)
            assert await launcher.stop(life) == 0, life.tail()
        finally:
            await launcher.close()
    return outcome(
        "sqlite",
        telegram,
        launcher.lives,
        lease=lease,
        bound=lease + RESTART_BOUND,
        chats=chats,
        faults=kills,
        back_to_work=restarts,
        began=began,
    )


@pytest.mark.slow
async def test_sigkill_twenty_times_during_delivery_of_1000_alerts_on_sqlite(
    tmp_path: Path,
) -> None:
    check(await sigkill_during_delivery(tmp_path))


# ── 2. two instances on PostgreSQL, either killed ────────────────────────────


async def _admin_sql(url: str, statement: str) -> None:
    engine = create_async_engine(database_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the server (dropped afterwards); yields its URL."""
    name = f"crash_{uuid.uuid4().hex[:12]}"
    await _admin_sql(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_server() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(POSTGRES_SKIP_REASON)
    return url


async def two_instances_killed(
    server_url: str,
    tmp: Path,
    *,
    kills: int = 6,
    chats: int = 500,
    seed: int = 12,
    max_delay: float = 1.0,
    lease: float = LEASE,
) -> Outcome:
    """Two instances deliver 2 × `chats` alerts from one database; `kills` times one
    of them (each as often, in random order) is killed at a random moment and
    restarted while the other carries on."""
    rng = random.Random(seed)
    victims = ["a", "b"] * (kills // 2) + ["a"] * (kills % 2)
    rng.shuffle(victims)
    expected = len(expected_alerts(chats))
    async with (
        fresh_database(server_url) as database,
        FeedServer() as feeds,
        RecordingTelegram() as telegram,
    ):
        feeds.serve_bytes(FEED_PATH, feed_body(datetime.now(UTC)), etag='"crash"')
        await prepare(database, feeds.url(FEED_PATH), chats)
        launcher = Launcher(service_env(tmp, database, lease), telegram, tmp)
        began = time.monotonic()
        restarts: list[float] = []
        try:
            current = {name: await launcher.start(f"{name}-0") for name in ("a", "b")}
            for life in current.values():
                await launcher.back_at_work(life, within=DONE_TIMEOUT)
            for kill, name in enumerate(victims, start=1):
                await asyncio.sleep(rng.uniform(0, max_delay))
                done = len(telegram.delivered())
                assert done < expected, f"all delivered before kill {kill}: kill sooner"
                await launcher.kill(current[name])
                current[name] = await launcher.start(f"{name}-{kill}")
                restarts.append(
                    await launcher.back_at_work(current[name], within=lease + RESTART_BOUND)
                )
            await wait_until_settled(database, telegram, chats)
            for life in current.values():
                assert await launcher.stop(life) == 0, life.tail()
        finally:
            await launcher.close()
    return outcome(
        "postgresql, two instances",
        telegram,
        launcher.lives,
        lease=lease,
        bound=lease + RESTART_BOUND,
        chats=chats,
        faults=kills,
        back_to_work=restarts,
        began=began,
    )


@pytest.mark.slow
@pytest.mark.postgres
async def test_two_instances_on_postgres_killed_at_random(
    postgres_server: str, tmp_path: Path
) -> None:
    check(await two_instances_killed(postgres_server, tmp_path))


# ── 3. the database goes away mid-poll and mid-delivery ──────────────────────


@pytest.mark.postgres
async def test_a_database_out_of_reach_is_one_clear_store_error(
    postgres_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused connection surfaces from asyncpg as a bare OSError; the store turns
    it into StoreError (which the poller and the delivery loop log in one line)
    and works again as soon as the database is back."""
    async with fresh_database(postgres_server) as database:
        real = make_url(database)
        async with TcpProxy((real.host or "127.0.0.1", real.port or 5432)) as proxy:
            proxied = real.set(host="127.0.0.1", port=proxy.port)
            store = await open_store(proxied.render_as_string(hide_password=False))
            try:
                await proxy.refuse()
                assert proxy.cut() >= 1  # the pooled connection
                with pytest.raises(StoreError, match=r"database read failed: .*refused|failed"):
                    await store.outbox_pending()
                deliverer = Deliverer(store, {}, DeliveryPolicy(), lambda: datetime.now(UTC))
                stop = asyncio.Event()
                running = asyncio.create_task(deliverer.run(stop, tick_seconds=0.05))
                await wait_for(lambda: "delivery pass failed" in caplog.text, 30, "a logged pass")
                stop.set()
                await running
                failed = [r for r in caplog.records if "delivery pass failed" in r.getMessage()]
                assert "database write failed" in failed[0].getMessage()
                assert failed[0].exc_info is None, "one line, not a traceback"
                await proxy.accept()
                assert await store.outbox_pending() == 0
            finally:
                await store.close()


DATABASE_ERROR = re.compile(r"ERROR .*: database (read|write) failed: ")
"""The one line the service logs while the database is out of reach."""


async def database_outage(
    server_url: str,
    tmp: Path,
    *,
    chats: int = 200,
    outage_seconds: float = 4.0,
    lease: float = SHORT_LEASE,
) -> Outcome:
    """One instance on PostgreSQL through a TCP proxy: every database connection is
    cut (and new ones refused for `outage_seconds`) while a poll waits for the feed,
    then again a third of the way through delivery."""
    expected = len(expected_alerts(chats))
    async with fresh_database(server_url) as database, FeedServer() as feeds:
        real = make_url(database)
        target = (real.host or "127.0.0.1", real.port or 5432)
        async with TcpProxy(target) as proxy, RecordingTelegram() as telegram:
            held = asyncio.Event()
            route = feeds.serve_bytes(
                FEED_PATH, feed_body(datetime.now(UTC)), etag='"crash"', hold=held
            )
            await prepare(database, feeds.url(FEED_PATH), chats)
            proxied = real.set(host="127.0.0.1", port=proxy.port)
            env = service_env(tmp, proxied.render_as_string(hide_password=False), lease)
            launcher = Launcher(env, telegram, tmp)
            began = time.monotonic()
            back: list[float] = []
            try:
                life = await launcher.start("only")
                await wait_for(lambda: feeds.in_flight[FEED_PATH] > 0, DONE_TIMEOUT, "a poll")
                await proxy.refuse()
                proxy.cut()
                life.faulted = True
                route.hold = None
                held.set()  # the poll goes on with its database gone
                await asyncio.sleep(outage_seconds)
                await proxy.accept()
                back.append(await _first_message_after(telegram, life, 0, lease))
                await wait_for(
                    lambda: len(telegram.delivered()) >= expected // 3, DONE_TIMEOUT, "delivery"
                )
                assert len(telegram.delivered()) < expected, "delivered before the second outage"
                cut_at = time.monotonic()
                await proxy.outage(outage_seconds)
                back.append(
                    await _first_message_after(telegram, life, len(telegram.received), lease)
                )
                away = cut_at + IN_FLIGHT_GRACE, cut_at + outage_seconds
                posted = [m for m in telegram.received if away[0] < m.at < away[1]]
                assert not posted, f"{len(posted)} alerts posted while the database was away"
                await wait_until_settled(database, telegram, chats)
                assert life.proc.returncode is None, life.tail()
                assert await launcher.stop(life) == 0, life.tail()
            finally:
                await launcher.close()
    log = life.log.read_text(errors="replace")
    assert DATABASE_ERROR.search(log), log[-3000:]
    lines = log.splitlines()
    for at, line in enumerate(lines[:-1]):
        if " ERROR bot.pipeline." in line or " ERROR bot.delivery." in line:
            assert not lines[at + 1].startswith("Traceback"), f"not one line: {line}"
    return outcome(
        "postgresql outage",
        telegram,
        launcher.lives,
        lease=lease,
        bound=lease + OUTAGE_BOUND,
        chats=chats,
        faults=2,
        back_to_work=back,
        began=began,
    )


async def _first_message_after(
    telegram: RecordingTelegram, life: Life, count: int, lease: float
) -> float:
    """Seconds from now until the fake has more than `count` messages."""
    start = time.monotonic()

    def new_message() -> bool:
        return len(telegram.received) > count or life.proc.returncode is not None

    await wait_for(new_message, lease + OUTAGE_BOUND, "work after the outage")
    assert life.proc.returncode is None, life.tail()
    return time.monotonic() - start


@pytest.mark.slow
@pytest.mark.postgres
async def test_database_outage_mid_poll_and_mid_delivery_loses_nothing(
    postgres_server: str, tmp_path: Path
) -> None:
    check(await database_outage(postgres_server, tmp_path))
