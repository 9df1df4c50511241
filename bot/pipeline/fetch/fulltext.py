"""Full text for teaser-only feed items (`NEWSWATCH_FULLTEXT=true`, off by default).

Some feeds carry a one-line summary; the article page has the text the
matcher and the summarizer need. When the setting is on, each new story
whose summary is shorter than `TEASER_CHARS` (and whose feed gave no content)
has its page fetched and its main text extracted with trafilatura, which then
stands as the story's content: the query's `content:` scope, the topic tier
and the alert's summary all read it.

The page is fetched by a `Fetcher` on the feed client, so it goes through the
same SSRF guard (every redirect hop too), per-host and global limits and user
agent as feed fetches, with caps of its own: `PAGE_MAX_BYTES` after
decompression and `PAGE_TIMEOUT_SECONDS` for the whole fetch. A page that
fails, is not HTML or has no article text leaves the story as the feed gave
it: full text improves a story, it never holds one back. trafilatura is the
optional extra `newswatch[fulltext]`, imported only when the setting is on.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from types import ModuleType

from bot.core import metrics
from bot.core.errors import ConfigError, FetchError
from bot.core.model import Story
from bot.core.text import MAX_CONTENT_CHARS, bounded
from bot.pipeline.fetch.fetcher import Fetcher, FetchLimits

TEASER_CHARS = 200
"""Summaries shorter than this are teasers worth replacing with the page text."""
PAGE_MAX_BYTES = 2 * 1024 * 1024
PAGE_TIMEOUT_SECONDS = 10.0

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MISSING_EXTRA = (
    "NEWSWATCH_FULLTEXT=true needs trafilatura: install the extra with "
    "`pip install 'newswatch[fulltext]'` or set NEWSWATCH_FULLTEXT=false"
)
log = logging.getLogger(__name__)


def is_teaser(summary: str) -> bool:
    """Whether a feed summary is too short to stand for the article."""
    return len(summary.strip()) < TEASER_CHARS


def wants_full_text(story: Story) -> bool:
    """A story with only a teaser and a web page to read the rest from."""
    return (
        is_teaser(story.summary)
        and is_teaser(story.content)
        and story.url.startswith(("http://", "https://"))
    )


def page_limits(feed_limits: FetchLimits) -> FetchLimits:
    """The feed fetcher's limits with the article page caps."""
    return replace(
        feed_limits,
        max_bytes=min(PAGE_MAX_BYTES, feed_limits.max_bytes),
        total_timeout=min(PAGE_TIMEOUT_SECONDS, feed_limits.total_timeout),
    )


def require_fulltext() -> ModuleType:
    """trafilatura; ConfigError (one line with the fix) when the extra is missing."""
    try:
        return importlib.import_module("trafilatura")
    except ImportError:
        raise ConfigError(_MISSING_EXTRA) from None


class FullText:
    """Puts the article text of teaser-only stories into their `content`."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._trafilatura = require_fulltext()

    async def fill(
        self, stories: Sequence[Story], *, now: datetime, skip: Collection[str] = ()
    ) -> list[Story]:
        """`stories` in order, each teaser-only one (key not in `skip`) with its page text."""
        wanted = [s for s in stories if s.key not in skip and wants_full_text(s)]
        texts = await asyncio.gather(*(self._text_or_none(s, now) for s in wanted))
        found = {
            s.key: bounded(text, MAX_CONTENT_CHARS)
            for s, text in zip(wanted, texts, strict=True)
            if text
        }
        return [replace(s, content=found[s.key]) if s.key in found else s for s in stories]

    async def _text_or_none(self, story: Story, now: datetime) -> str | None:
        try:
            text = await self.page_text(story.url, now)
        except FetchError as err:
            log.info("no full text for %s: %s", story.url, err)
            metrics.FULLTEXT.labels("failed").inc()
            return None
        metrics.FULLTEXT.labels("extracted" if text else "empty").inc()
        return text

    async def page_text(self, url: str, now: datetime) -> str | None:
        """The main text of the article at `url`; None when the page is not HTML or
        has no article text. Raises FetchError (or ResponseTooLargeError) like a feed fetch."""
        page = await self._fetcher.fetch_page(url, now)
        content_type = (page.content_type or "").split(";")[0].strip().lower()
        if content_type and content_type not in _HTML_TYPES:
            return None
        text = await asyncio.to_thread(
            self._trafilatura.extract, page.body, url=page.final_url, include_comments=False,
            include_tables=False, favor_precision=True,
        )  # fmt: skip
        return text.strip() or None if isinstance(text, str) else None
