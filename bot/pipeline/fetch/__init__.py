"""Fetch: feeds over HTTP (SSRF-guarded, conditional GET, size-capped) and the schedule.

Fetcher.fetch(url, state, now) ─▶ FeedResponse
FullText.fill(stories, now=…) ─▶ stories, teaser-only ones with their article text
plan_next_poll(state, now=…, interval_seconds=…, phase=feed_phase(url), outcome=…) ─▶ FeedState
"""

from bot.pipeline.fetch.fetcher import Fetcher, FetchLimits, make_http_client
from bot.pipeline.fetch.fulltext import FullText
from bot.pipeline.fetch.schedule import (
    Failed,
    Fetched,
    NotModified,
    PollOutcome,
    feed_phase,
    plan_next_poll,
)
from bot.pipeline.fetch.websub import SAFETY_NET_SECONDS

__all__ = [
    "SAFETY_NET_SECONDS",
    "Failed",
    "FetchLimits",
    "Fetched",
    "Fetcher",
    "FullText",
    "NotModified",
    "PollOutcome",
    "feed_phase",
    "make_http_client",
    "plan_next_poll",
]
