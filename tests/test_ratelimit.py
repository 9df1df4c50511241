"""The rate limiter on virtual time: spacing, windows, penalties, order."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable

import pytest

from bot.core.errors import ConfigError
from bot.delivery.ratelimit import Policy, RateLimiter, Window, slack_limiter, telegram_limiter


class VirtualClock:
    """A clock whose time only moves when every task is asleep: tests never really wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, *coroutines: Awaitable[None]) -> None:
        """Run the coroutines to completion, jumping time to the next sleeper when idle."""
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while True:
            for _ in range(20):
                await asyncio.sleep(0)
            if all(task.done() for task in tasks):
                break
            assert self._sleepers, "tasks are blocked but nobody sleeps: a deadlock"
            when, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            future.set_result(None)
        for task in tasks:
            task.result()


Log = list[tuple[str, float]]


def sender(limiter: RateLimiter, clock: VirtualClock, log: Log) -> Callable[[str], Awaitable[None]]:
    async def send(key: str) -> None:
        await limiter.acquire(key)
        log.append((key, round(clock.now, 6)))

    return send


async def release_times(
    make: Callable[[VirtualClock], RateLimiter], keys: list[str]
) -> list[tuple[str, float]]:
    clock = VirtualClock()
    log: Log = []
    send = sender(make(clock), clock, log)
    await clock.run(*(send(key) for key in keys))
    return log


@pytest.mark.parametrize(
    ("make", "keys", "expected"),
    [
        pytest.param(
            slack_limiter,
            ["C1", "C1", "C1"],
            [("C1", 0.0), ("C1", 1.0), ("C1", 2.0)],
            id="slack channel 1/s",
        ),
        pytest.param(
            slack_limiter,
            ["C1", "C2", "C3"],
            [("C1", 0.0), ("C2", 0.0), ("C3", 0.0)],
            id="slack channels independent",
        ),
        pytest.param(
            telegram_limiter,
            ["1", "2", "3"],
            [("1", 0.0), ("2", 0.04), ("3", 0.08)],
            id="telegram overall spacing 1/25 s",
        ),
        pytest.param(
            telegram_limiter,
            ["5", "5", "6"],
            [("5", 0.0), ("6", 0.04), ("5", 1.0)],
            id="a waiting chat does not hold up others",
        ),
        pytest.param(
            lambda clock: telegram_limiter(clock, per_chat_interval=0.0),
            ["-100"] * 22,
            [("-100", round(i * 0.04, 6)) for i in range(20)] + [("-100", 60.0), ("-100", 60.04)],
            id="group 20 per minute",
        ),
        pytest.param(
            lambda clock: RateLimiter(
                key_policy=lambda _k: Policy(),
                global_policy=Policy(0, (Window(2, 1.0),)),
                clock=clock,
            ),
            ["a", "b", "c", "d", "e"],
            [("a", 0.0), ("b", 0.0), ("c", 1.0), ("d", 1.0), ("e", 2.0)],
            id="global sliding window",
        ),
    ],
)
async def test_release_times(
    make: Callable[[VirtualClock], RateLimiter], keys: list[str], expected: Log
) -> None:
    assert await release_times(make, keys) == expected


async def test_sends_for_one_key_leave_in_the_order_they_asked() -> None:
    clock = VirtualClock()
    limiter = slack_limiter(clock)
    order: list[tuple[int, float]] = []

    async def send(n: int) -> None:
        await limiter.acquire("C9")
        order.append((n, clock.now))

    await clock.run(*(send(n) for n in range(6)))
    assert order == [(n, float(n)) for n in range(6)]


@pytest.mark.parametrize(
    ("penalized", "seconds", "expected"),
    [
        pytest.param(None, 5.0, [("1", 0.0), ("2", 5.0), ("3", 5.04)], id="global penalty"),
        pytest.param("2", 3.0, [("1", 0.0), ("3", 0.04), ("2", 3.0)], id="one chat penalty"),
        pytest.param("9", 3.0, [("1", 0.0), ("2", 0.04), ("3", 0.08)], id="other chat penalty"),
    ],
)
async def test_penalize(penalized: str | None, seconds: float, expected: Log) -> None:
    clock = VirtualClock()
    limiter = telegram_limiter(clock)
    log: Log = []
    send = sender(limiter, clock, log)
    await clock.run(send("1"))
    limiter.penalize(penalized, seconds)
    await clock.run(send("2"), send("3"))
    assert log == expected


async def test_penalty_that_arrives_while_waiting_is_honoured() -> None:
    clock = VirtualClock()
    limiter = telegram_limiter(clock)
    log: Log = []
    send = sender(limiter, clock, log)

    async def rate_limited_at_half_a_second() -> None:
        await clock.sleep(0.5)
        limiter.penalize(None, 2.0)

    await clock.run(send("7"), send("7"), rate_limited_at_half_a_second())
    assert log == [("7", 0.0), ("7", 2.5)]


async def test_telegram_mix_keeps_every_limit() -> None:
    rng = random.Random(7)
    keys = [rng.choice(["1", "2", "3", "-10", "-20", "-30", "4", "5"]) for _ in range(300)]
    keys += [str(n) for n in range(100, 200)]
    log = await release_times(telegram_limiter, keys)
    assert sorted(k for k, _ in log) == sorted(keys)
    by_key: dict[str, list[float]] = {}
    for key, at in log:
        by_key.setdefault(key, []).append(at)
    for key, times in by_key.items():
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times)), key
        if key.startswith("-"):
            assert all(b - a >= 60.0 - 1e-9 for a, b in zip(times, times[20:], strict=False)), key
    everything = sorted(at for _, at in log)
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(everything, everything[25:], strict=False))


@pytest.mark.parametrize(("limit", "period"), [(0, 1.0), (3, 0.0), (-1, 5.0)])
def test_invalid_window_names_the_fix(limit: int, period: float) -> None:
    with pytest.raises(ConfigError, match="use limit ≥ 1, period > 0"):
        Window(limit, period)
