"""Feeds: fetch over HTTP (SSRF-guarded), parse into entries, and plan the next poll.

fetch(url, state) ─▶ FeedResponse ─parse_feed─▶ ParsedFeed ─plan_next_poll─▶ FeedState
"""

from bot.feeds.fetcher import Fetcher, FetchLimits, make_http_client

__all__ = ["FetchLimits", "Fetcher", "make_http_client"]
