"""Fetch: feeds over HTTP (SSRF-guarded, conditional GET, size-capped) and the schedule.

Fetcher.fetch(url, state, now) ─▶ FeedResponse
plan_next_poll(state, now=…, floor_seconds=…, outcome=Fetched|NotModified|Failed) ─▶ FeedState
"""

from bot.pipeline.fetch.fetcher import Fetcher, FetchLimits, make_http_client
from bot.pipeline.fetch.schedule import Failed, Fetched, NotModified, PollOutcome, plan_next_poll

__all__ = [
    "Failed",
    "FetchLimits",
    "Fetched",
    "Fetcher",
    "NotModified",
    "PollOutcome",
    "make_http_client",
    "plan_next_poll",
]
