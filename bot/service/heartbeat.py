"""The scheduler's heartbeat: when each job last started a tick, for `/healthz`.

Each scheduled job calls `beat(job)` when a tick starts. A job that has not
started for longer than its limit means the scheduler (or the job, stuck in a
tick that never ends) has stopped, and `/healthz` answers 503 with that reason,
so a supervisor (Docker's HEALTHCHECK, a Kubernetes probe) restarts the
process. Ages use the monotonic clock: the wall clock may jump.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

STALE_FLOOR_SECONDS = 300.0
"""No job is stale sooner than this: a long poll pass or a rate-limited
delivery pass legitimately skips a few ticks."""


@dataclass
class Heartbeat:
    """Last tick start per job; `stale_after` gives each job's limit in seconds."""

    stale_after: Mapping[str, float]
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        started = self.clock()  # a job that never ticked is as old as the heartbeat
        self._last = {job: started for job in self.stale_after}

    def beat(self, job: str) -> None:
        """Record that `job` started a tick now."""
        self._last[job] = self.clock()

    def ages(self) -> dict[str, float]:
        """Seconds since each job's last tick started."""
        now = self.clock()
        return {job: round(now - last, 3) for job, last in self._last.items()}

    def problems(self) -> list[str]:
        """One line per job that has not ticked within its limit."""
        return [
            f"scheduler: no {job} tick for {age:.0f} s (limit {self.stale_after[job]:.0f} s)"
            for job, age in self.ages().items()
            if job in self.stale_after and age > self.stale_after[job]
        ]


def scheduler_heartbeat(tick_seconds: Mapping[str, float]) -> Heartbeat:
    """A heartbeat whose jobs go stale after ten missed ticks (at least `STALE_FLOOR_SECONDS`)."""
    return Heartbeat(
        {job: max(10 * tick, STALE_FLOOR_SECONDS) for job, tick in tick_seconds.items()}
    )
