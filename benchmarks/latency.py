"""Benchmark: how soon a story alerts, measured on the real service (issue 8, point 5).

`newswatch run` runs as a subprocess, configured by environment variables
only (SQLite in a temp dir, loopback allowed, the default poll interval
unless `--interval`), with a Telegram chat subscribed to a rule, talking to
the loopback Bot API stand-in (tests/support/fake_telegram.py). This process
serves the feeds from an aiohttp server spread over 20 ports on 127.0.0.1:

* 1,000 feeds of mixed rhythms: 10 % busy (a new item every 1–2 min), 30 %
  hourly, 30 % daily, 30 % weekly; each starts with 20 items at its rhythm and
  answers with ETag and Last-Modified, 304 to a matching conditional GET;
* after the service's first full pass (every feed fetched twice), stories
  appear for `--minutes`: each feed's own items at its rhythm (Poisson, titles
  that match no rule) and "drone strike" stories (Poisson, `--alerts` of them
  expected, each in a feed drawn at random from all rhythms) that match the
  rule the chat follows;
* each matching story is timed from the moment it appears in its feed to the
  moment the Bot API stand-in accepts the message that carries its link.

Reported: p50, p95 and max of that latency (a story not alerted by the end
of the drain counts as infinitely late); requests per feed per minute at the
feed server (200 and 304 apart); CPU of the service process over the measured
window (/proc/<pid>/stat, all its threads) as % of one core; its peak RSS
(VmHWM). `--json PATH` writes the figures and every story's times.

`--push` adds 100 feeds that name a loopback WebSub hub (a minimal W3C
WebSub hub in this script: subscription requests, intent verification, and
signed content distribution of the whole feed on every new item), with "air
raid" stories to a second chat. It runs only when the service has a
`public_url` setting (its WebSub subscriber); otherwise it prints "skipped:
this build has no WebSub subscriber".

    python benchmarks/latency.py                 # 1,000 feeds, 10 minutes
    python benchmarks/latency.py --quick         # 200 feeds, 2 minutes (smoke run)
    python benchmarks/latency.py --push --json /tmp/latency.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import heapq
import hmac
import itertools
import json
import math
import os
import platform
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fake_telegram import FakeTelegramApi  # noqa: E402

Figures = dict[str, Any]

RULES = ROOT / "tests" / "data" / "latency-rules.yaml"
TOKEN = "123456:LATENCY-BENCH"
POLLED_CHAT, PUSHED_CHAT = 4242, 4343
PORTS = 20
ITEMS_KEPT = 20
"""Items in each feed: the newest 20, as most publishers' feeds list."""
RHYTHMS: dict[str, tuple[float, tuple[float, float]]] = {
    # name: (share of the feeds, range of the mean gap between items in seconds)
    "busy": (0.10, (60.0, 120.0)),
    "hourly": (0.30, (3600.0, 3600.0)),
    "daily": (0.30, (86400.0, 86400.0)),
    "weekly": (0.30, (604800.0, 604800.0)),
}
TARGETS = {"polled_p95_s": 60.0, "pushed_p95_s": 5.0, "requests_per_feed_minute": 2.0}
TARGETS |= {"cpu_percent": 15.0}
STORY_ID = re.compile(r"/story/(\d+)")
PUSH_SKIPPED = "skipped: this build has no WebSub subscriber"


# ── the newsroom: feeds, their stories, the server ─────────────────────────


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    """Distinct made-up words (place and thing names): titles built from them share
    no words by accident, so dedup never merges two benchmark stories."""
    onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "tr"]
    vowels = ["a", "e", "i", "o", "u", "ei", "ou"]
    codas = ["", "n", "r", "l", "s", "m", "k"]
    words: set[str] = set()
    while len(words) < count:
        parts = [rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(3)]
        words.add("".join(parts))
    return sorted(words)


HEADLINE_WORDS = [
    *("council", "budget", "vote", "court", "ruling", "market", "shares", "school", "election"),
    *("harbour", "bridge", "festival", "museum", "trial", "minister", "report", "rates"),
    *("housing", "rail", "ferry", "talks", "water", "plan", "hospital", "union", "farmers"),
    *("weather", "league", "final", "theatre"),
]
MATCH_VERBS = ["hits", "reported near", "damages", "targets", "near", "over"]


@dataclass
class Item:
    sid: int
    title: str
    link: str
    summary: str
    published: float


@dataclass
class SimFeed:
    """One loopback feed: its items (newest first) and what it was asked."""

    n: int
    rhythm: str
    gap: float
    """Mean seconds between its own items."""
    url: str
    pushed: bool
    items: list[Item] = field(default_factory=list)
    version: int = 0
    changed: float = 0.0
    body: bytes = b""
    requests: int = 0
    window: Counter[int] = field(default_factory=Counter)
    """Answers by status while the measured window is open."""

    @property
    def etag(self) -> str:
        return f'"{self.n}-{self.version}"'

    @property
    def last_modified(self) -> str:
        return formatdate(math.floor(self.changed), usegmt=True)


@dataclass
class Appearance:
    """A story that must alert: when it appeared in its feed, when its message arrived."""

    sid: int
    feed: int
    rhythm: str
    pushed: bool
    appeared: float
    received: float | None = None
    fetched: float | None = None
    """When the feed server first sent a body carrying it (the service's check)."""
    messages: int = 0


class Newsroom:
    """The feeds, the stories that appear in them and the aiohttp server for both."""

    def __init__(self, rng: random.Random, polled: int, pushed: int, ports: int) -> None:
        self.rng = rng
        self.words = pseudo_words(rng, 4000)
        self.ports = ports
        self.feeds: list[SimFeed] = []
        self.by_path: dict[str, SimFeed] = {}
        self.sids = itertools.count(1)
        self.counting = False
        self.unknown = 0
        self.first_served: dict[int, float] = {}
        """Story id → when a 200 first carried it."""
        self.hub: Hub | None = None
        self._counts = (polled, pushed)
        self._runner: web.AppRunner | None = None
        self.port_numbers: list[int] = []

    def _rhythms(self, count: int) -> list[str]:
        names: list[str] = []
        for name, (share, _) in RHYTHMS.items():
            names += [name] * round(share * count)
        names = (names + ["weekly"] * count)[:count]
        self.rng.shuffle(names)
        return names

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{kind}/{name}", self._serve)
        if self.hub is not None:
            app.router.add_post("/hub", self.hub.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        for _ in range(self.ports):
            await web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024).start()
        self.port_numbers = [int(address[1]) for address in self._runner.addresses]
        now = time.time()
        polled, pushed = self._counts
        for kind, count in (("f", polled), ("p", pushed)):
            for rhythm in self._rhythms(count):
                n = len(self.feeds)
                port = self.port_numbers[n % len(self.port_numbers)]
                low, high = RHYTHMS[rhythm][1]
                url = f"http://127.0.0.1:{port}/{kind}/{n}.xml"
                feed = SimFeed(n, rhythm, self.rng.uniform(low, high), url, kind == "p")
                self._backlog(feed, now)
                self.feeds.append(feed)
                self.by_path[f"/{kind}/{n}.xml"] = feed

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.port_numbers[0]}/hub"

    def _backlog(self, feed: SimFeed, now: float) -> None:
        """ITEMS_KEPT items at the feed's rhythm, the newest less than a gap ago."""
        when = now - self.rng.uniform(0, feed.gap)
        items = []
        for _ in range(ITEMS_KEPT):
            items.append(self._item(feed, self._background_title(), when))
            when -= self.rng.expovariate(1 / feed.gap)
        feed.items = items
        self._changed(feed, items[0].published)

    def _item(self, feed: SimFeed, title: str, when: float) -> Item:
        sid = next(self.sids)
        base = feed.url.rsplit("/", 2)[0]
        lead = " ".join(self.rng.choice(self.words) for _ in range(12))
        summary = f"{lead.capitalize()}. {self.rng.choice(self.words).capitalize()} said so."
        return Item(sid, title, f"{base}/story/{sid}", summary, when)

    def _background_title(self) -> str:
        pick = self.rng.choice
        words, usual = self.words, HEADLINE_WORDS
        return f"{pick(words).capitalize()} {pick(usual)} {pick(words)} {pick(usual)} {pick(words)}"

    def matching_title(self, phrase: str, sid: int) -> str:
        pick = self.rng.choice
        place, thing, other = pick(self.words), pick(self.words), pick(self.words)
        return f"{phrase} {pick(MATCH_VERBS)} {place.capitalize()} {thing}, {sid} {other} hurt"

    def add_story(self, feed: SimFeed, *, phrase: str | None) -> Item:
        """A new item at the top of `feed` (the oldest drops off), visible from now."""
        now = time.time()
        sid = next(self.sids)
        title = self.matching_title(phrase, sid) if phrase else self._background_title()
        item = self._item(feed, title, now)
        feed.items = [item, *feed.items[: ITEMS_KEPT - 1]]
        self._changed(feed, now)
        if feed.pushed and self.hub is not None:
            self.hub.publish(feed.url, feed.body)
        return item

    def _changed(self, feed: SimFeed, when: float) -> None:
        feed.version += 1
        feed.changed = when
        feed.body = self._render(feed)

    def _render(self, feed: SimFeed) -> bytes:
        hub = ""
        if feed.pushed:
            hub = (
                f'<atom:link rel="hub" href="{self.hub_url}"/>'
                f'<atom:link rel="self" href="{feed.url}"/>'
            )
        items = "".join(
            f"<item><title>{escape(item.title)}</title><link>{item.link}</link>"
            f'<guid isPermaLink="false">nwbench-{item.sid}</guid>'
            f"<pubDate>{formatdate(item.published, usegmt=True)}</pubDate>"
            f"<description>{escape(item.summary)}</description></item>"
            for item in feed.items
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>Bench feed {feed.n} ({feed.rhythm})</title>"
            f"<link>{feed.url.rsplit('/', 2)[0]}/</link><description>bench</description>"
            f"<lastBuildDate>{feed.last_modified}</lastBuildDate>{hub}{items}"
            "</channel></rss>"
        ).encode()

    async def _serve(self, request: web.Request) -> web.Response:
        feed = self.by_path.get(request.path)
        if feed is None:
            self.unknown += 1
            return web.Response(status=404)
        feed.requests += 1
        headers = {"ETag": feed.etag, "Last-Modified": feed.last_modified}
        if feed.pushed:
            headers["Link"] = f'<{self.hub_url}>; rel="hub", <{feed.url}>; rel="self"'
        status = 304 if self._not_modified(feed, request) else 200
        if self.counting:
            feed.window[status] += 1
        if status == 200:
            now = time.time()
            for item in feed.items:
                self.first_served.setdefault(item.sid, now)
        if status == 304:
            return web.Response(status=304, headers=headers)
        return web.Response(body=feed.body, content_type="application/rss+xml", headers=headers)

    @staticmethod
    def _not_modified(feed: SimFeed, request: web.Request) -> bool:
        """RFC 9110: If-None-Match decides when present, else If-Modified-Since."""
        tags = request.headers.get("If-None-Match")
        if tags is not None:
            return tags.strip() == "*" or feed.etag in (t.strip() for t in tags.split(","))
        since = request.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return math.floor(feed.changed) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False


# ── a loopback WebSub hub (W3C Recommendation, 2018), for --push ───────────


@dataclass
class Subscription:
    callback: str
    secret: str | None
    expires: float


class Hub:
    """A minimal conforming hub: §5.1 subscriber requests (202 Accepted), §5.3 intent
    verification (GET with hub.challenge, echoed in a 2xx body), §7/§8 content
    distribution of the whole topic, signed `X-Hub-Signature: sha256=…` when the
    subscriber gave a `hub.secret`."""

    def __init__(self, topics: set[str], hub_url: Callable[[], str]) -> None:
        self.topics = topics
        self.hub_url = hub_url
        self.subscriptions: dict[str, dict[str, Subscription]] = {}
        self.events: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    def verified_topics(self) -> int:
        return sum(1 for subs in self.subscriptions.values() if subs)

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        mode, topic = str(form.get("hub.mode", "")), str(form.get("hub.topic", ""))
        callback = str(form.get("hub.callback", ""))
        self.events[f"request {mode or '?'}"] += 1
        if mode not in ("subscribe", "unsubscribe") or not callback.startswith("http"):
            return web.Response(status=400, text="hub.mode and hub.callback are required")
        if topic not in self.topics:
            self.events["unknown topic"] += 1
            return web.Response(status=404, text=f"this hub does not publish {topic}")
        secret = str(form["hub.secret"]) if form.get("hub.secret") else None
        lease = min(int(str(form.get("hub.lease_seconds") or 86400)), 10 * 86400)
        self._spawn(self._verify(mode, topic, callback, secret, lease))
        return web.Response(status=202)

    async def _verify(
        self, mode: str, topic: str, callback: str, secret: str | None, lease: int
    ) -> None:
        challenge = secrets.token_urlsafe(16)
        query = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            query["hub.lease_seconds"] = str(lease)
        try:
            async with self.session.get(callback, params=query) as answer:
                body = await answer.text()
                ok = 200 <= answer.status < 300 and body.strip() == challenge
        except aiohttp.ClientError:
            ok = False
        self.events[f"verified {mode}" if ok else f"refused {mode}"] += 1
        if not ok:
            return
        subs = self.subscriptions.setdefault(topic, {})
        if mode == "subscribe":
            subs[callback] = Subscription(callback, secret, time.time() + lease)
        else:
            subs.pop(callback, None)

    def publish(self, topic: str, body: bytes) -> None:
        """Distribute the topic's new content to every verified subscriber, now."""
        for sub in list(self.subscriptions.get(topic, {}).values()):
            if sub.expires > time.time():
                self._spawn(self._deliver(sub, topic, body))

    async def _deliver(self, sub: Subscription, topic: str, body: bytes) -> None:
        headers = {
            "Content-Type": "application/rss+xml",
            "Link": f'<{self.hub_url()}>; rel="hub", <{topic}>; rel="self"',
        }
        if sub.secret is not None:
            digest = hmac.new(sub.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = f"sha256={digest}"
        try:
            async with self.session.post(sub.callback, data=body, headers=headers) as answer:
                self.events[f"push {answer.status}"] += 1
        except aiohttp.ClientError as err:
            self.events[f"push failed: {type(err).__name__}"] += 1


def websub_setting() -> str | None:
    """The environment variable of the service's WebSub callback base URL, or None
    when this build has no WebSub subscriber (no `public_url` setting)."""
    from bot.core.settings import ENV_NAMES, Settings

    return ENV_NAMES.get("public_url") if "public_url" in Settings.model_fields else None


# ── the service process ───────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid`, all its threads (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of process `pid`, in MB."""
    found = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found


def service_env(
    tmp: Path, database: str, telegram: str, http_port: int, args: argparse.Namespace
) -> dict[str, str]:
    """The service's whole configuration, as environment variables only."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NEWSWATCH_", "TELEGRAM_", "SLACK_"))
    }
    env |= {
        "NEWSWATCH_DATA_DIR": str(tmp),
        "NEWSWATCH_DATABASE_URL": database,
        "NEWSWATCH_FEEDS_FILE": str(tmp / "feeds.yaml"),
        "NEWSWATCH_RULES_FILE": str(RULES),
        "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWATCH_HTTP_PORT": str(http_port),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": telegram,
    }
    if args.interval:
        env["NEWSWATCH_POLL_INTERVAL"] = str(args.interval)
    if args.semantic:
        env["NEWSWATCH_SEMANTIC"] = args.semantic
    if args.per_host:
        env["NEWSWATCH_PER_HOST"] = str(args.per_host)
    return env


async def prepare_store(database: str, push: bool) -> None:
    """The chats' subscriptions, made in the store before the service starts."""
    from bot.core.model import Destination
    from bot.store import open_store

    store = await open_store(database)
    try:
        await store.subscribe(Destination("telegram", str(POLLED_CHAT)), ["drone_strike"],
                              actor="latency-bench")  # fmt: skip
        if push:
            await store.subscribe(Destination("telegram", str(PUSHED_CHAT)), ["air_raid"],
                                  actor="latency-bench")  # fmt: skip
    finally:
        await store.close()


async def wait_until(check: Callable[[], bool], seconds: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


async def healthy(port: int, proc: asyncio.subprocess.Process, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline and proc.returncode is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                    if answer.status == 200:
                        return True
            await asyncio.sleep(0.5)
    return False


# ── the run ───────────────────────────────────────────────────────────────


class Stories:
    """Schedules the stories of the measured window and matches the Bot API's
    messages to them."""

    def __init__(self, room: Newsroom, telegram: FakeTelegramApi, rng: random.Random) -> None:
        self.room, self.telegram, self.rng = room, telegram, rng
        self.watched: dict[int, Appearance] = {}
        self.background = 0
        self.unmatched_messages = 0
        self._seen = 0

    async def run(self, seconds: float, alerts: float, pushed_alerts: float) -> None:
        """Stories appear until `seconds` from now: each feed's own at its rhythm,
        plus Poisson streams of matching ones (`alerts` expected among the polled
        feeds, `pushed_alerts` among the pushed ones)."""
        start = time.time()
        end = start + seconds
        feeds = self.room.feeds
        polled = [f for f in feeds if not f.pushed]
        pushed = [f for f in feeds if f.pushed]
        queue: list[tuple[float, int, str]] = []
        for feed in feeds:
            queue.append((start + self.rng.expovariate(1 / feed.gap), feed.n, "own"))
        streams = {"drone strike": (polled, alerts), "air raid": (pushed, pushed_alerts)}
        rates = {}
        for phrase, (group, expected) in streams.items():
            if group and expected > 0:
                rates[phrase] = expected / seconds
                queue.append((start + self.rng.expovariate(rates[phrase]), -1, phrase))
        heapq.heapify(queue)
        while queue:
            when, n, kind = heapq.heappop(queue)
            if when >= end:
                break
            await asyncio.sleep(max(0.0, when - time.time()))
            if kind == "own":
                self.room.add_story(feeds[n], phrase=None)
                self.background += 1
                heapq.heappush(queue, (when + self.rng.expovariate(1 / feeds[n].gap), n, kind))
                continue
            group = streams[kind][0]
            feed = self.rng.choice(group)
            item = self.room.add_story(feed, phrase=kind.capitalize())
            self.watched[item.sid] = Appearance(
                item.sid, feed.n, feed.rhythm, feed.pushed, item.published
            )
            heapq.heappush(queue, (when + self.rng.expovariate(rates[kind]), -1, kind))
        await asyncio.sleep(max(0.0, end - time.time()))

    def collect(self) -> None:
        """Match the messages accepted since the last call to their stories."""
        messages = self.telegram.messages
        for message in messages[self._seen :]:
            found = STORY_ID.search(message.text)
            story = self.watched.get(int(found.group(1))) if found else None
            if story is None:
                self.unmatched_messages += 1
                continue
            story.messages += 1
            if story.received is None:
                story.received = message.at
                story.fetched = self.room.first_served.get(story.sid)
        self._seen = len(messages)

    def outstanding(self) -> int:
        return sum(1 for s in self.watched.values() if s.received is None)

    async def follow(self) -> None:
        while True:
            self.collect()
            await asyncio.sleep(0.2)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (inf when the rank falls among stories never alerted)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def latency_figures(stories: list[Appearance]) -> Figures:
    values = [s.received - s.appeared if s.received is not None else math.inf for s in stories]
    return {
        "stories": len(stories),
        "alerted": sum(1 for v in values if v != math.inf),
        "missed": sum(1 for v in values if v == math.inf),
        "duplicates": sum(max(0, s.messages - 1) for s in stories),
        **split_figures(stories),
        "p50_s": percentile(values, 50),
        "p95_s": percentile(values, 95),
        "max_s": max(values, default=math.nan),
    }


def split_figures(stories: list[Appearance]) -> Figures:
    """The latency of alerted stories in two parts: waiting for the feed's next check
    (appearance → the 200 that carried it), and the rest (that 200 → the Bot API)."""
    done = [s for s in stories if s.received is not None and s.fetched is not None]
    waits = [s.fetched - s.appeared for s in done if s.fetched is not None]
    rest = [s.received - s.fetched for s in done if s.received is not None and s.fetched]
    return {
        "wait_p50_s": percentile(waits, 50),
        "wait_p95_s": percentile(waits, 95),
        "after_fetch_p50_s": percentile(rest, 50),
        "after_fetch_p95_s": percentile(rest, 95),
        "after_fetch_max_s": max(rest, default=math.nan),
    }


def request_figures(feeds: list[SimFeed], minutes: float) -> Figures:
    total: Counter[int] = Counter()
    for feed in feeds:
        total.update(feed.window)
    per_feed = [sum(f.window.values()) / minutes for f in feeds]
    count = max(len(feeds), 1)
    return {
        "feeds": len(feeds),
        "per_feed_minute": sum(total.values()) / count / minutes,
        "per_feed_minute_200": total[200] / count / minutes,
        "per_feed_minute_304": total[304] / count / minutes,
        "max_feed_per_minute": max(per_feed, default=0.0),
        "min_feed_per_minute": min(per_feed, default=0.0),
        "by_status": dict(total),
    }


async def measure(args: argparse.Namespace) -> Figures:
    rng = random.Random(args.seed)
    push_env = websub_setting() if args.push else None
    push_note = None if not args.push or push_env else PUSH_SKIPPED
    room = Newsroom(rng, args.feeds, args.push_feeds if push_env else 0, PORTS)
    if push_env:
        room.hub = Hub(set(), lambda: room.hub_url)
    await room.start()
    if room.hub is not None:
        room.hub.topics.update(f.url for f in room.feeds if f.pushed)
    telegram = FakeTelegramApi(TOKEN, clock=time.time)
    figures: Figures = {"machine": machine(), "args": vars(args), "push_skipped": push_note}
    figures["service_code"] = code_version(args.root)
    with tempfile.TemporaryDirectory(prefix="nw-latency-") as tmp_name:
        tmp = Path(tmp_name)
        lines = [f"  - url: {f.url}\n    name: bench{f.n}\n" for f in room.feeds]
        (tmp / "feeds.yaml").write_text("feeds:\n" + "".join(lines))
        database = f"sqlite:///{tmp}/service.db"
        await prepare_store(database, push=bool(push_env))
        http_port = free_port()
        env = service_env(tmp, database, await telegram.start(), http_port, args)
        if push_env:
            env[push_env] = f"http://127.0.0.1:{http_port}"
        log_out, log_err = (tmp / "stdout.log").open("wb"), (tmp / "stderr.log").open("wb")
        started = time.time()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=args.root,
            env=env,
            stdout=log_out,
            stderr=log_err,
        )
        stories = Stories(room, telegram, rng)
        follower = asyncio.get_running_loop().create_task(stories.follow())
        try:
            figures |= await drive(args, proc, http_port, room, stories, started)
        finally:
            follower.cancel()
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            try:
                figures["exit_code"] = await asyncio.wait_for(proc.wait(), timeout=60)
            except TimeoutError:
                proc.kill()
                figures["exit_code"] = await proc.wait()
            log_out.close()
            log_err.close()
            errors = (tmp / "stderr.log").read_text(errors="replace").splitlines()
            warnings = [line for line in errors if " WARNING " in line]
            figures["service_warnings"] = len(warnings)
            figures["service_warning_lines"] = warnings[:20]
            figures["service_errors"] = [line for line in errors if " ERROR " in line][:20]
            if figures["exit_code"] != 0 or "polled" not in figures:
                print("\n".join(errors[-40:]), file=sys.stderr)
            if room.hub is not None:
                await room.hub.close()
            await telegram.close()
            await room.close()
    figures["rate_limited_429"] = telegram.rate_limited
    figures["stories"] = [asdict(s) for s in stories.watched.values()]
    figures["machine_end"] = machine()
    return figures


async def drive(
    args: argparse.Namespace,
    proc: asyncio.subprocess.Process,
    http_port: int,
    room: Newsroom,
    stories: Stories,
    started: float,
) -> Figures:
    """Warm-up, the measured window, the drain; returns the figures."""
    figures: Figures = {}
    pid = proc.pid
    if not await healthy(http_port, proc, 180):
        raise SystemExit("the service did not answer /healthz within 180 s")
    figures["healthy_after_s"] = time.time() - started
    print(f"service up after {figures['healthy_after_s']:.1f} s; waiting for its first full pass")
    feeds = room.feeds
    first = await wait_until(lambda: all(f.requests >= 1 for f in feeds), args.warmup)
    figures["first_pass_s"] = time.time() - started if first else None
    second = await wait_until(lambda: all(f.requests >= 2 for f in feeds), args.warmup)
    figures["second_pass_s"] = time.time() - started if second else None
    if not second:
        unpolled = sum(1 for f in feeds if f.requests < 2)
        print(f"warning: {unpolled} feeds were not fetched twice within --warmup; going on")
    if room.hub is not None:
        pushed = sum(1 for f in feeds if f.pushed)
        await wait_until(lambda: room.hub is not None and room.hub.verified_topics() >= pushed, 120)
        figures["hub_topics_verified"] = room.hub.verified_topics()
    print(
        f"first pass done at {figures['first_pass_s'] or math.nan:.0f} s, second at "
        f"{figures['second_pass_s'] or math.nan:.0f} s; measuring for {args.minutes:g} min"
    )
    seconds = args.minutes * 60
    samples: list[tuple[float, float]] = [(time.time(), cpu_seconds(pid))]
    peak_rss = memory_mb(pid)["VmRSS"]

    async def sample() -> None:
        nonlocal peak_rss
        while True:
            await asyncio.sleep(10)
            samples.append((time.time(), cpu_seconds(pid)))
            peak_rss = max(peak_rss, memory_mb(pid)["VmRSS"])

    sampler = asyncio.get_running_loop().create_task(sample())
    room.counting = True
    bench_cpu = time.process_time()
    pushed_alerts = args.push_alerts if room.hub is not None else 0
    await stories.run(seconds, args.alerts, pushed_alerts)
    room.counting = False
    sampler.cancel()
    samples.append((time.time(), cpu_seconds(pid)))
    figures["bench_process_cpu_s"] = time.process_time() - bench_cpu
    (t0, c0), (t1, c1) = samples[0], samples[-1]
    figures["cpu_percent"] = 100 * (c1 - c0) / (t1 - t0)
    figures["cpu_per_minute"] = per_minute(samples)
    drain = args.drain if args.drain is not None else 2 * poll_interval(args) + 30
    await wait_until(lambda: stories.outstanding() == 0, drain, step=0.2)
    stories.collect()
    memory = memory_mb(pid)
    figures["rss_mb"] = memory["VmRSS"]
    figures["peak_rss_mb"] = max(memory["VmHWM"], peak_rss)
    figures["background_stories"] = stories.background
    figures["unmatched_messages"] = stories.unmatched_messages
    polled = [s for s in stories.watched.values() if not s.pushed]
    figures["polled"] = latency_figures(polled)
    figures["polled_by_rhythm"] = {
        name: latency_figures([s for s in polled if s.rhythm == name]) for name in RHYTHMS
    }
    minutes = (t1 - t0) / 60
    figures["requests"] = request_figures([f for f in feeds if not f.pushed], minutes)
    figures["requests_by_rhythm"] = {
        name: request_figures([f for f in feeds if not f.pushed and f.rhythm == name], minutes)
        for name in RHYTHMS
    }
    if room.hub is not None:
        figures["pushed"] = latency_figures([s for s in stories.watched.values() if s.pushed])
        figures["pushed_requests"] = request_figures([f for f in feeds if f.pushed], minutes)
        figures["hub_events"] = dict(room.hub.events)
    figures["unknown_paths"] = room.unknown
    figures["drain_s"] = drain
    return figures


def per_minute(samples: list[tuple[float, float]]) -> list[float]:
    """CPU % of one core in each whole minute of the window (from the 10 s samples)."""
    out, start = [], samples[0]
    for point in samples[1:]:
        if point[0] - start[0] >= 59:
            out.append(round(100 * (point[1] - start[1]) / (point[0] - start[0]), 2))
            start = point
    return out


def code_version(root: Path) -> str:
    """The commit the service runs (and whether its tree has changes), or the path."""
    try:
        head = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return str(root)
    return f"{root} at {head.stdout.strip()}"


def poll_interval(args: argparse.Namespace) -> float:
    from bot.core.settings import Settings

    return float(args.interval or Settings.model_fields["poll_interval"].default)


# ── report ─────────────────────────────────────────────────────────────────


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; load average {load}"
    )


def seconds_text(value: float) -> str:
    return "never (missed)" if value == math.inf else f"{value:.1f} s"


def met(value: float, target: float) -> str:
    return "yes" if value <= target else "**no**"


def print_report(figures: Figures) -> None:
    print(f"\nmachine: {figures['machine']}  →  {figures['machine_end']}")
    print(f"service code: {figures['service_code']}")
    args = figures["args"]
    print(
        f"feeds: {args['feeds']} polled on {PORTS} ports of 127.0.0.1, poll interval "
        f"{args['interval'] or 'default'}; service up {figures['healthy_after_s']:.1f} s, first "
        f"pass {figures['first_pass_s'] or math.nan:.0f} s, "
        f"second {figures['second_pass_s'] or math.nan:.0f} s"
    )
    polled, req = figures["polled"], figures["requests"]
    rows = [
        ("polled stories alerted", "all", f"{polled['alerted']} of {polled['stories']}",
         "yes" if polled["missed"] == 0 else "**no**"),
        ("polled latency p50", "–", seconds_text(polled["p50_s"]), "–"),
        ("polled latency p95", "≤ 60 s", seconds_text(polled["p95_s"]),
         met(polled["p95_s"], TARGETS["polled_p95_s"])),
        ("polled latency max", "–", seconds_text(polled["max_s"]), "–"),
        ("of which: waiting for the check, p50 / p95", "–",
         f"{seconds_text(polled['wait_p50_s'])} / {seconds_text(polled['wait_p95_s'])}", "–"),
        ("of which: fetch → Bot API, p50 / p95 / max", "–",
         " / ".join(seconds_text(polled[k])
                    for k in ("after_fetch_p50_s", "after_fetch_p95_s", "after_fetch_max_s")), "–"),
        ("requests per feed per minute", "≤ 2",
         f"{req['per_feed_minute']:.2f} ({req['per_feed_minute_200']:.2f} × 200, "
         f"{req['per_feed_minute_304']:.2f} × 304; busiest feed {req['max_feed_per_minute']:.2f})",
         met(req["per_feed_minute"], TARGETS["requests_per_feed_minute"])),
        ("service CPU, measured window", "≤ 15 % of a core", f"{figures['cpu_percent']:.1f} %",
         met(figures["cpu_percent"], TARGETS["cpu_percent"])),
        ("service peak RSS", "–", f"{figures['peak_rss_mb']:.0f} MB", "–"),
    ]  # fmt: skip
    if "pushed" in figures:
        pushed = figures["pushed"]
        rows.append(("pushed latency p50 / p95 / max", "p95 ≤ 5 s",
                     " / ".join(seconds_text(pushed[k]) for k in ("p50_s", "p95_s", "max_s")),
                     met(pushed["p95_s"], TARGETS["pushed_p95_s"])))  # fmt: skip
    elif figures["push_skipped"]:
        rows.append(("pushed latency", "p95 ≤ 5 s", figures["push_skipped"], "–"))
    print("\n| measure | target | figure | met |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\nby rhythm (polled): stories alerted/total, p50, p95, max; requests/feed/min")
    for name, lat in figures["polled_by_rhythm"].items():
        r = figures["requests_by_rhythm"][name]
        print(
            f"  {name:7} {lat['alerted']:3}/{lat['stories']:<3} p50 {seconds_text(lat['p50_s'])}, "
            f"p95 {seconds_text(lat['p95_s'])}, max {seconds_text(lat['max_s'])}; "
            f"{r['per_feed_minute']:.2f} req ({r['per_feed_minute_200']:.2f} × 200)"
        )
    print(
        f"CPU per minute (%): {figures['cpu_per_minute']}; background stories "
        f"{figures['background_stories']}; duplicate alerts {polled['duplicates']}; messages "
        f"matching no story {figures['unmatched_messages']}; Bot API 429s "
        f"{figures['rate_limited_429']}; service warnings {figures['service_warnings']}, "
        f"errors {len(figures['service_errors'])}; this process's CPU "
        f"{figures['bench_process_cpu_s']:.1f} s; exit code {figures['exit_code']}"
    )
    if "hub_events" in figures:
        print(f"hub: {figures['hub_events']}; topics verified {figures['hub_topics_verified']}")


def plain(value: Any) -> Any:
    """`value` with infinities (stories never alerted) and NaNs as null, for JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="measured window (default 10)")
    parser.add_argument("--feeds", type=int, default=1000, help="polled feeds (default 1000)")
    parser.add_argument(
        "--alerts",
        type=float,
        default=150.0,
        help="matching stories expected in the window (default 150)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 200 feeds, 2 minutes, 30 matching stories"
    )
    parser.add_argument("--push", action="store_true", help="also 100 feeds pushed by a hub")
    parser.add_argument("--push-feeds", type=int, default=100)
    parser.add_argument("--push-alerts", type=float, default=120.0)
    parser.add_argument("--interval", type=float, help="NEWSWATCH_POLL_INTERVAL (default: unset)")
    parser.add_argument(
        "--semantic",
        choices=["auto", "on", "off"],
        help="NEWSWATCH_SEMANTIC (default: unset, i.e. the service's default)",
    )
    parser.add_argument("--per-host", type=int, help="NEWSWATCH_PER_HOST (default: unset)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=600.0,
        help="longest wait for each of the first two passes, seconds",
    )
    parser.add_argument(
        "--drain",
        type=float,
        help="wait for late alerts after the window (default 2 intervals + 30 s)",
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the checkout whose `bot` runs as the service (default: this one)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()  # fmt: skip
    if args.quick:
        args.feeds, args.minutes, args.alerts = 200, 2.0, 30.0
        args.push_feeds, args.push_alerts = 20, 20.0
    figures = asyncio.run(measure(args))
    print_report(figures)
    if args.json:
        args.json.write_text(json.dumps(plain(figures), indent=1, default=str) + "\n")
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
