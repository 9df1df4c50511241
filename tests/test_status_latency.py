"""`status` shows the last 24 h's alert latency: p50 and p95 from first sight and publication."""

from __future__ import annotations

import pytest

from bot.pipeline.health import StatusReport, percentile


def report(latencies: tuple[tuple[float, float], ...]) -> StatusReport:
    return StatusReport(
        feeds=(), last_poll=None, queue_length=0, dead_letters=(), latencies=latencies
    )


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [([5.0], 50, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0), (list(range(1, 101)), 95, 95),
     ([3.0, 1.0, 2.0], 95, 3.0)],
)  # fmt: skip
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


def test_status_lines_show_p50_and_p95() -> None:
    pairs = tuple((float(s), float(s) + 600) for s in range(1, 101))
    [line] = report(pairs).latency_lines()
    assert line == (
        "alert latency (24 h, 100 alerts): from first seen p50 50 s, p95 95 s; "
        "from publication p50 11 min, p95 12 min"
    )
    assert report(()).latency_lines() == ["alert latency (24 h): no alerts sent"]
    assert "alert latency (24 h, 100 alerts)" in "\n".join(report(pairs).lines())
