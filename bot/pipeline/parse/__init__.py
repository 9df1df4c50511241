"""Parse: feed bytes (RSS, Atom, JSON Feed) to a `ParsedFeed` of entries, text made plain.

parse_feed(body, url=…, content_type=…, fetched_at=…) ─▶ ParsedFeed
"""

from bot.pipeline.parse.html import html_to_text
from bot.pipeline.parse.parser import parse_feed

__all__ = ["html_to_text", "parse_feed"]
