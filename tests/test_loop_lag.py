"""The event-loop lag monitor: a step that holds the loop shows in the metric and the log."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.core import metrics
from bot.service.looplag import LoopLagMonitor


def _lag_sum() -> float:
    value = metrics.REGISTRY.get_sample_value("newswatch_event_loop_lag_seconds_sum")
    return value or 0.0


async def test_a_stall_is_measured_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    before = _lag_sum()
    monitor = LoopLagMonitor(interval=0.02, warn_seconds=0.2)
    monitor.start()
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING, logger="bot.service.looplag"):
        time.sleep(0.4)  # noqa: ASYNC251 - hold the loop on purpose
        await asyncio.sleep(0.1)
    await monitor.stop()
    assert monitor.worst >= 0.3
    assert _lag_sum() - before >= 0.3
    assert any("event loop stalled" in r.getMessage() for r in caplog.records)


async def test_an_idle_loop_shows_no_stall() -> None:
    monitor = LoopLagMonitor(interval=0.02)
    monitor.start()
    await asyncio.sleep(0.3)
    await monitor.stop()
    assert monitor.worst < 0.2
    await monitor.stop()  # stopping twice is harmless
