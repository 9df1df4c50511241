"""A platform-neutral async rate limiter: per-key spacing and sliding windows.

Each key (a Telegram chat id, a Slack channel) gets a `Policy`: a minimum
spacing between sends and any number of sliding-window caps (at most `limit`
sends in any `period` seconds). A global policy caps the whole platform.
`await limiter.acquire(key)` returns when a send may go out now; sends for
one key are released in the order they asked (FIFO), so order per chat is
kept. After a 429, `penalize(key, seconds)` holds that key back, and
`penalize(None, seconds)` holds back every key.

Global slots are reserved in time order when a key is otherwise ready, so a
slow chat never holds up the others. The clock is injectable for tests.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.core.errors import ConfigError


class Clock(Protocol):
    """Monotonic time and sleeping, injectable so tests run on virtual time."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: `time.monotonic` and `asyncio.sleep`."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` sends in any `period` seconds."""

    limit: int
    period: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period <= 0:
            raise ConfigError(
                f"rate window {self.limit}/{self.period}s is invalid: use limit ≥ 1, period > 0"
            )


@dataclass(frozen=True, slots=True)
class Policy:
    """The limits for one key (or for the whole platform)."""

    min_interval: float = 0.0
    """Seconds between two consecutive sends."""
    windows: tuple[Window, ...] = ()

    @property
    def horizon(self) -> float:
        """How long a send still constrains later ones."""
        return max([self.min_interval, *(w.period for w in self.windows)])

    @property
    def memory(self) -> int:
        """How many past send times the policy needs to remember."""
        return max([1, *(w.limit for w in self.windows)])


@dataclass
class _History:
    """Recent send times of one key, in increasing order, and any penalty."""

    policy: Policy
    times: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0

    def earliest(self, now: float) -> float:
        """The earliest time ≥ now at which one more send keeps to the policy."""
        t = max(now, self.blocked_until)
        if self.times:
            t = max(t, self.times[-1] + self.policy.min_interval)
        for window in self.policy.windows:
            if len(self.times) >= window.limit:
                t = max(t, self.times[-window.limit] + window.period)
        return t

    def record(self, at: float) -> None:
        self.times.append(at)
        while len(self.times) > self.policy.memory:
            self.times.popleft()


@dataclass
class _KeyState:
    history: _History
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class RateLimiter:
    """Waits so that sends keep to per-key and global policies (see module doc)."""

    def __init__(
        self,
        *,
        key_policy: Callable[[str], Policy],
        global_policy: Policy,
        clock: Clock | None = None,
        max_idle_keys: int = 10_000,
    ) -> None:
        self._key_policy = key_policy
        self._global = _History(global_policy)
        self._clock: Clock = clock or SystemClock()
        self._keys: dict[str, _KeyState] = {}
        self._max_idle_keys = max_idle_keys

    async def acquire(self, key: str) -> None:
        """Wait until one send for `key` may go out now, and count it as sent."""
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState(_History(self._key_policy(key)))
            self._forget_idle_keys()
        async with state.lock:
            while not await self._try_slot(state.history):
                pass

    async def _try_slot(self, history: _History) -> bool:
        """Wait for the key, then for a global slot; False if a penalty came meanwhile."""
        now = self._clock.monotonic()
        ready = history.earliest(now)
        if ready > now:
            await self._clock.sleep(ready - now)
            return False
        # Global slots are handed out in time order, so the global history stays sorted.
        slot = max(
            self._global.earliest(now), self._global.times[-1] if self._global.times else now
        )
        self._global.record(slot)
        if slot > now:
            await self._clock.sleep(slot - now)
        now = self._clock.monotonic()
        if history.blocked_until > now or self._global.blocked_until > now:
            return False  # the reserved global slot stays counted: harmless, conservative
        history.record(now)
        return True

    def penalize(self, key: str | None, seconds: float) -> None:
        """Hold back `key` (or, with None, every key) for `seconds` from now, e.g. after a 429."""
        until = self._clock.monotonic() + max(0.0, seconds)
        if key is None:
            self._global.blocked_until = max(self._global.blocked_until, until)
            return
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _KeyState(_History(self._key_policy(key)))
        state.history.blocked_until = max(state.history.blocked_until, until)

    def _forget_idle_keys(self) -> None:
        """Drop state of keys nobody waits on whose last send no longer matters."""
        if len(self._keys) <= self._max_idle_keys:
            return
        now = self._clock.monotonic()
        for key, state in list(self._keys.items()):
            history = state.history
            last = history.times[-1] if history.times else float("-inf")
            idle = last + history.policy.horizon < now and history.blocked_until < now
            if idle and not state.lock.locked():
                del self._keys[key]


def telegram_policy(
    chat_id: str, *, per_chat_interval: float = 1.0, group_per_minute: int = 20
) -> Policy:
    """1 message/s per chat; groups, supergroups and channels (negative ids) also 20/min."""
    if chat_id.startswith("-"):
        return Policy(per_chat_interval, (Window(group_per_minute, 60.0),))
    return Policy(per_chat_interval)


def telegram_limiter(
    clock: Clock | None = None,
    *,
    per_chat_interval: float = 1.0,
    group_per_minute: int = 20,
    global_per_second: int = 25,
) -> RateLimiter:
    """The limiter for one Telegram bot: per chat, per group and ≤ 25/s overall.

    Overall sends are also spaced evenly (1/25 s) so that, after network
    jitter, the Bot API never sees a burst above its ~30/s limit.
    """

    def policy(key: str) -> Policy:
        return telegram_policy(
            key, per_chat_interval=per_chat_interval, group_per_minute=group_per_minute
        )

    overall = Policy(1.0 / global_per_second, (Window(global_per_second, 1.0),))
    return RateLimiter(key_policy=policy, global_policy=overall, clock=clock)


def slack_limiter(clock: Clock | None = None, *, per_channel_interval: float = 1.0) -> RateLimiter:
    """The limiter for one Slack workspace: 1 message/s per channel."""
    channel = Policy(per_channel_interval)
    return RateLimiter(key_policy=lambda _key: channel, global_policy=Policy(), clock=clock)
