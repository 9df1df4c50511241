"""Time in tests: waiting for what another task or process does, with a deadline;
making feeds due; a clock that a test moves forward."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.store.base import Store


async def wait_until(
    condition: Callable[[], object], *, within: float = 15.0, what: str = "the condition"
) -> None:
    """Return once `condition()` is true; fail the test after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"timed out after {within:g} s waiting for {what}"
        await asyncio.sleep(0.05)


async def all_feeds_due_at(store: Store, when: datetime) -> None:
    """Move every feed's next check to `when` (tests that make primed feeds due)."""
    for health in await store.list_feeds():
        await store.save_feed_state(health.feed.id, replace(health.state, next_poll_at=when))


@dataclass
class ShiftedClock:
    """Real time plus an offset a test moves forward (leases, backoff, renewals, due feeds)."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset
