"""Health reports: feed health lines, the service status summary, and the
feed-health notices pushed to the admins.

The lines are shared by `newswatch feeds list` and the `status` chat command,
so a source that died is visible in both places. `check_feed_health` (a
scheduler job) tells the admins, once, when a feed starts failing (N checks in
a row) or goes quiet (no new item for much longer than its usual gap), and
once when it recovers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from bot.core.model import Destination, PushState, PushSubscription
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


def feed_health_lines(
    feeds: Sequence[FeedHealth], push: Mapping[int, PushSubscription] | None = None
) -> list[str]:
    """One line per feed: id, name, condition, last fetch and last error, and its WebSub
    status when `push` (subscriptions by feed id) has one."""
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
        if feed.interval is not None:
            line += f"  (every {feed.interval:g} s)"
        if state.last_error:
            line += f"\n      last error: {state.last_error}"
        if push and feed.id in push:
            line += f"\n      {push_status(push[feed.id])}"
        lines.append(line)
    return lines


async def feed_list_lines(store: Store) -> list[str]:
    """`feeds list` (command line and chat): every feed's health and push status."""
    push = {sub.feed.id: sub for sub in await store.push_subscriptions() if sub.feed}
    return feed_health_lines(await store.list_feeds(), push)


def push_status(sub: PushSubscription) -> str:
    """How `feeds list` shows a subscription, e.g. "push: active until 2026-12-09 17:00 UTC"."""
    if sub.state is PushState.ACTIVE:
        until = f"{sub.lease_expires_at:%Y-%m-%d %H:%M} UTC" if sub.lease_expires_at else "?"
        note = f" (last renewal failed: {sub.last_error})" if sub.last_error else ""
        return f"push: active until {until} via {sub.hub}{note}"
    if sub.state is PushState.SUBSCRIBING:
        return f"push: pending (waiting for {sub.hub} to verify)"
    if sub.state is PushState.FAILED:
        retry = f"; retry at {sub.retry_at:%Y-%m-%d %H:%M} UTC" if sub.retry_at else ""
        return f"push: failed ({sub.last_error or 'unknown reason'}){retry}"
    return "push: unsubscribing"


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What `status` shows."""

    feeds: tuple[FeedHealth, ...]
    last_poll: str | None
    queue_length: int
    dead_letters: tuple[DeadLetter, ...]
    latencies: tuple[tuple[float, float], ...] = ()
    """(first seen → sent, published → sent) seconds of the last 24 h's alerts."""

    @property
    def failing(self) -> list[FeedHealth]:
        return [health for health in self.feeds if health.state.error_count >= FAILING_AFTER]

    def lines(self) -> list[str]:
        healthy = sum(1 for health in self.feeds if health.state.error_count == 0)
        out = [
            f"feeds: {len(self.feeds)} ({healthy} healthy, {len(self.failing)} failing)",
            f"last poll: {self.last_poll or 'never'}",
            f"alerts waiting to be delivered: {self.queue_length}",
            *self.latency_lines(),
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

    def latency_lines(self) -> list[str]:
        """Alert latency over the last 24 h: p50 and p95 from first sight and from publication."""
        if not self.latencies:
            return ["alert latency (24 h): no alerts sent"]
        seen = [pair[0] for pair in self.latencies]
        published = [pair[1] for pair in self.latencies]
        return [
            f"alert latency (24 h, {len(self.latencies)} alerts): from first seen "
            f"p50 {_seconds(percentile(seen, 50))}, p95 {_seconds(percentile(seen, 95))}; "
            f"from publication p50 {_seconds(percentile(published, 50))}, "
            f"p95 {_seconds(percentile(published, 95))}"
        ]


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct`-th percentile of `values` (nearest rank; values need not be sorted)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


async def collect_status(store: Store, now: datetime | None = None) -> StatusReport:
    """Gather the status from the store; with `now`, also the last 24 h's alert latency."""
    latencies = () if now is None else tuple(await store.alert_latencies(now - timedelta(hours=24)))
    return StatusReport(
        feeds=tuple(await store.list_feeds()),
        last_poll=await store.get_meta("last_poll_at"),
        queue_length=await store.outbox_pending(),
        dead_letters=tuple(await store.dead_letters(limit=5)),
        latencies=latencies,
    )


# ── feed-health notices to the admins ──────────────────────────────────────

FAILING = "failing"
QUIET = "quiet"


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """When a feed counts as failing or quiet (NEWSWATCH_FEED_* settings)."""

    failing_after: int = FAILING_AFTER
    quiet_factor: float = 10.0
    quiet_min: timedelta = timedelta(hours=72)


def usual_gap(item_times: Sequence[datetime]) -> timedelta | None:
    """The median gap between a feed's distinct item times (None below three items)."""
    ordered = sorted(set(item_times))
    gaps = [(b - a).total_seconds() for a, b in pairwise(ordered)]
    if len(gaps) < 2:
        return None
    return timedelta(seconds=statistics.median(gaps))


def feed_conditions(health: FeedHealth, limits: HealthLimits, now: datetime) -> dict[str, bool]:
    """Which alarms hold now: `failing` always; `quiet` only when it can be told
    (enough dated items, and the feed not failing, which would be the real cause)."""
    state = health.state
    failing = state.error_count >= limits.failing_after
    found = {FAILING: failing}
    gap = usual_gap(state.item_times)
    if gap is not None and not failing:
        silent = now - max(state.item_times)
        found[QUIET] = silent > max(limits.quiet_min, gap * limits.quiet_factor)
    return found


def _span(length: timedelta) -> str:
    """`3 days`, `5 h` or `20 min` (rounded to the minute first)."""
    minutes = round(length.total_seconds() / 60)
    if minutes >= 48 * 60:
        return f"{minutes / 1440:.0f} days"
    if minutes >= 60:
        return f"{minutes / 60:.0f} h"
    return f"{minutes} min"


def notice_text(health: FeedHealth, kind: str, raised: bool, now: datetime) -> str:
    """The one short line the admins get for an alarm raised or cleared."""
    feed, state = health.feed, health.state
    name = f"feed {feed.name} (id {feed.id})"
    if kind == FAILING and raised:
        error = (state.last_error or "unknown error")[:160]
        return f"newswatch: {name} is failing: {state.error_count} checks in a row — {error}"
    if kind == FAILING:
        return f"newswatch: {name} works again (HTTP {state.last_status or 'ok'})"
    if raised:
        silent = now - max(state.item_times)
        gap = usual_gap(state.item_times) or timedelta()
        return (
            f"newswatch: {name} has had no new item for {_span(silent)} "
            f"(usually one every {_span(gap)}); its checks still succeed"
        )
    return f"newswatch: {name} has new items again"


async def check_feed_health(
    store: Store, limits: HealthLimits, admins: Sequence[Destination], now: datetime
) -> list[str]:
    """Raise or clear each feed's alarms, queueing one notice per admin destination
    for each change (atomically with it: never twice, never lost); returns the texts."""
    raised = await store.feed_alarms()
    sent: list[str] = []
    for health in await store.list_feeds():
        if not health.feed.enabled:
            continue
        for kind, holds in feed_conditions(health, limits, now).items():
            if holds == ((health.feed.id, kind) in raised):
                continue
            text = notice_text(health, kind, holds, now)
            notices = [(admin, text) for admin in admins]
            if await store.set_feed_alarm(
                health.feed.id, kind, raised=holds, at=now, notices_to=notices
            ):
                sent.append(text)
    return sent
