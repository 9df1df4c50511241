"""Feeds: fetch over HTTP (SSRF-guarded), parse into entries, and plan the next poll.

Fetcher.fetch(url, state, now) ─▶ FeedResponse ─parse_feed─▶ ParsedFeed
plan_next_poll(state, now=…, floor_seconds=…, outcome=Fetched|NotModified|Failed) ─▶ FeedState
"""

from bot.feeds.fetcher import Fetcher, FetchLimits, make_http_client
from bot.feeds.parser import html_to_text, parse_feed
from bot.feeds.policy import Failed, Fetched, NotModified, PollOutcome, plan_next_poll

__all__ = [
    "Failed",
    "FetchLimits",
    "Fetched",
    "Fetcher",
    "NotModified",
    "PollOutcome",
    "html_to_text",
    "make_http_client",
    "parse_feed",
    "plan_next_poll",
]
