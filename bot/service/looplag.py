"""The event loop's lag: how late it wakes a short sleep.

Every CPU-heavy stage runs in a worker thread, so no step should hold the loop
for more than about 100 ms. `LoopLagMonitor` sleeps `interval` seconds again
and again and records the overshoot in `newswatch_event_loop_lag_seconds`;
a lag over `warn_seconds` is logged with the worst seen so far, so a stall
shows in the log and on `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core import metrics

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.1
WARN_SECONDS = 0.5


@dataclass
class LoopLagMonitor:
    """A task measuring the loop's lag; `start` it inside the running loop, `stop` to end."""

    interval: float = INTERVAL_SECONDS
    warn_seconds: float = WARN_SECONDS
    monotonic: Callable[[], float] = time.monotonic
    worst: float = 0.0
    """The largest lag measured since start (seconds)."""
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            started = self.monotonic()
            await asyncio.sleep(self.interval)
            self.record(max(0.0, self.monotonic() - started - self.interval))

    def record(self, lag: float) -> None:
        """One measurement: to the histogram, to `worst`, and to the log when large."""
        metrics.LOOP_LAG_SECONDS.observe(lag)
        self.worst = max(self.worst, lag)
        if lag > self.warn_seconds:
            log.warning("event loop stalled %.2f s (worst since start %.2f s)", lag, self.worst)
