"""Health reports: feed health lines and the service status summary.

Shared by `newswatch feeds list` and the `status` chat command, so a source
that died is visible in both places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.store.base import DeadLetter, FeedHealth, Store

FAILING_AFTER = 3
"""Consecutive errors after which a feed is reported as failing, not just flaky."""


def feed_condition(health: FeedHealth) -> str:
    """`ok`, `new`, `flaky (n errors)` or `FAILING (n errors)`."""
    state = health.state
    if state.error_count >= FAILING_AFTER:
        return f"FAILING ({state.error_count} errors)"
    if state.error_count:
        return f"flaky ({state.error_count} error{'s' if state.error_count > 1 else ''})"
    if state.last_fetch_at is None:
        return "new"
    return "ok"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def feed_health_lines(feeds: Sequence[FeedHealth]) -> list[str]:
    """One line per feed: id, name, condition, last fetch and last error."""
    if not feeds:
        return ["no feeds — add one with `newswatch feeds add URL`"]
    lines = []
    for health in feeds:
        feed, state = health.feed, health.state
        status = f"HTTP {state.last_status}" if state.last_status else "-"
        line = (
            f"{feed.id:>4}  {feed.name}  [{feed_condition(health)}]"
            f"  last fetch {_when(state.last_fetch_at)}"
            f" ({status}), next {_when(state.next_poll_at)}  <{feed.url}>"
        )
        if state.last_error:
            line += f"\n      last error: {state.last_error}"
        lines.append(line)
    return lines


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What `status` shows."""

    feeds: tuple[FeedHealth, ...]
    last_poll: str | None
    queue_length: int
    dead_letters: tuple[DeadLetter, ...]

    @property
    def failing(self) -> list[FeedHealth]:
        return [health for health in self.feeds if health.state.error_count >= FAILING_AFTER]

    def lines(self) -> list[str]:
        healthy = sum(1 for health in self.feeds if health.state.error_count == 0)
        out = [
            f"feeds: {len(self.feeds)} ({healthy} healthy, {len(self.failing)} failing)",
            f"last poll: {self.last_poll or 'never'}",
            f"alerts waiting to be delivered: {self.queue_length}",
        ]
        out += [
            f"failing feed: {h.feed.name} — {h.state.last_error or 'unknown error'}"
            for h in self.failing
        ]
        out += [
            f"delivery error: {d.destination} — {d.story_title[:60]}: {d.error}"
            for d in self.dead_letters
        ]
        return out


async def collect_status(store: Store) -> StatusReport:
    """Gather the status from the store."""
    return StatusReport(
        feeds=tuple(await store.list_feeds()),
        last_poll=await store.get_meta("last_poll_at"),
        queue_length=await store.outbox_pending(),
        dead_letters=tuple(await store.dead_letters(limit=5)),
    )
