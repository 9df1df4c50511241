"""Benchmark: one alert fanned out to 1,000 subscribed Telegram chats.

    .venv/bin/python benchmarks/bench_fanout.py [--chats 1000] [--workers 100]
        [--through-outbox] [--markdown benchmarks/fanout.md]

With `--through-outbox` the alert takes the service's whole delivery path
instead: 1,000 subscriptions in a SQLite store, one outbox row per chat
written as the pipeline writes them, and the real `Deliverer.deliver_once`
loop (claim a batch under a lease, send concurrently, record each outcome)
until the outbox is empty.

The real TelegramNotifier (python-telegram-bot over HTTP) with the real
`telegram_limiter()` (≤ 25/s overall, 1/s per chat, 20/min per group) sends
to FakeTelegramApi on loopback, which enforces Telegram's limits (30/s
overall, 1/s per chat, 20/min per group) and answers 429 when they are
broken. Half the chats are groups (negative ids). `--workers` tasks send
concurrently, as the delivery loop does; a 429 is retried after the limiter's
penalty. Target: ≤ 1.1 × (chats / 25) s (44 s for 1,000) with zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.errors import RateLimitedError  # noqa: E402
from bot.core.model import Alert, Destination, Hit, Match, Story  # noqa: E402
from bot.delivery.loop import Deliverer, DeliveryPolicy  # noqa: E402
from bot.delivery.ratelimit import telegram_limiter  # noqa: E402
from bot.platforms.telegram.notifier import TelegramNotifier  # noqa: E402
from bot.store import NewStory, open_store  # noqa: E402
from tests.support.fake_telegram import FakeTelegramApi  # noqa: E402

OVERALL_LIMIT = 25


@dataclass(frozen=True, slots=True)
class FanoutResult:
    chats: int
    delivered: int
    seconds: float
    answered_429: int
    retried: int

    @property
    def target_seconds(self) -> float:
        return 1.1 * self.chats / OVERALL_LIMIT


def sample_alert() -> Alert:
    """A realistic alert with hostile characters, so rendering and escaping are timed too."""
    now = datetime.now(UTC)
    url = "https://news.example/world/2024/05/01/drone-strike-depot?utm=x&id=7"
    story = Story(
        key="4f0c1e2d3b4a59687766554433221100",
        title="Drone strike hits fuel depot near <border> city & port",
        summary="A drone strike hit a fuel depot overnight. Officials said nobody was hurt.",
        content="",
        url=url,
        canonical_url=url,
        publisher="Example News",
        published=now,
        fetched_at=now,
    )
    match = Match("drone_strike", 1.0, (Hit("drone", "title", "Drone"),), why='title: "drone"')
    return Alert(story, (match,), story.summary)


def chat_ids(count: int) -> list[str]:
    """Half private chats, half groups (negative ids), interleaved."""
    return [str(n // 2 + 1) if n % 2 == 0 else str(-1_000_000 - n) for n in range(count)]


async def fan_out(chats: int, workers: int) -> FanoutResult:
    """Send one alert to every chat through the notifier; count 429s and retries."""
    alert, retried = sample_alert(), 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for chat_id in chat_ids(chats):
        queue.put_nowait(chat_id)
    async with FakeTelegramApi() as api:
        notifier = TelegramNotifier(api.token, base_url=api.base_url, limiter=telegram_limiter())

        async def worker() -> None:
            nonlocal retried
            while not queue.empty():
                chat_id = queue.get_nowait()
                while True:
                    try:
                        await notifier.send(Destination("telegram", chat_id), alert)
                        break
                    except RateLimitedError:
                        retried += 1

        await notifier.start()  # getMe once, outside the timed part
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(workers)))
        seconds = time.perf_counter() - started
        await notifier.close()
        delivered = len({m.chat_id for m in api.messages})
        return FanoutResult(chats, delivered, seconds, api.rate_limited, retried)


async def fan_out_through_outbox(chats: int) -> FanoutResult:
    """Subscriptions → outbox rows → the real delivery loop, until nothing is pending."""
    alert, retried = sample_alert(), 0
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/fanout.db")
        for chat_id in chat_ids(chats):
            await store.subscribe(Destination("telegram", chat_id), ["drone_strike"], actor="b")
        async with FakeTelegramApi() as api:
            limiter = telegram_limiter()
            notifier = TelegramNotifier(api.token, base_url=api.base_url, limiter=limiter)
            await notifier.start()
            deliverer = Deliverer(
                store, {"telegram": notifier}, DeliveryPolicy(), clock=lambda: datetime.now(UTC)
            )
            started = time.perf_counter()
            destinations = await store.destinations_for(["drone_strike"], datetime.now(UTC))
            await store.save_stories([NewStory(alert.story, alert, tuple(destinations))])
            while await store.outbox_pending():
                outcome = await deliverer.deliver_once()
                retried += outcome.retried
                if not outcome.sent:
                    await asyncio.sleep(0.05)  # rows wait for their retry time
            seconds = time.perf_counter() - started
            await notifier.close()
            delivered = len({m.chat_id for m in api.messages})
            result = FanoutResult(chats, delivered, seconds, api.rate_limited, retried)
        await store.close()
    return result


def report(result: FanoutResult, workers: int, *, through_outbox: bool = False) -> str:
    verdict = (
        "meets" if result.seconds <= result.target_seconds and not result.answered_429 else "MISSES"
    )
    how = (
        "`--through-outbox`: subscriptions in SQLite, one outbox row per chat, the real "
        "Deliverer loop (batches of 200, 100 concurrent sends)"
        if through_outbox
        else f"TelegramNotifier + telegram_limiter(), {workers} concurrent senders"
    )
    return "\n".join(
        [
            "# Fan-out benchmark",
            "",
            "`.venv/bin/python benchmarks/bench_fanout.py` — one alert to "
            f"{result.chats:,} Telegram chats (half groups) against FakeTelegramApi "
            f"(30/s overall, 1/s per chat, 20/min per group) on loopback; {how}.",
            "",
            "| chats | delivered | time | target | messages/s | 429 answers | retries |",
            "|---|---|---|---|---|---|---|",
            f"| {result.chats:,} | {result.delivered:,} | {result.seconds:.2f} s "
            f"| ≤ {result.target_seconds:.1f} s | {result.delivered / result.seconds:.2f} "
            f"| {result.answered_429} | {result.retried} |",
            "",
            f"Result: {verdict} the target (≤ 1.1 × chats/25 s, zero 429s).",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d} on Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs shared with other work. The time is bound by the "
            "limiter's 25/s overall spacing, so it is ≈ chats/25 s on any machine that keeps up.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--through-outbox", action="store_true", help="the service's path")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    if args.through_outbox:
        result = asyncio.run(fan_out_through_outbox(args.chats))
    else:
        result = asyncio.run(fan_out(args.chats, args.workers))
    text = report(result, args.workers, through_outbox=args.through_outbox)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
