"""Optional full-text extraction for feeds that only give a teaser.

Some feeds carry a one-line summary; the article page has the text the
matcher and the summarizer need. When the setting is on (off by default) and
a story's summary is shorter than TEASER_CHARS, the poller may fetch the page
and extract its main text with trafilatura. trafilatura is the optional extra
`newswatch[fulltext]` and is imported only when used.

The fetch goes through the caller's `httpx.AsyncClient`, so it gets the same
SSRF guard, timeouts and user agent as feed fetches.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from types import ModuleType

import httpx

from bot.core.errors import ConfigError, FetchError, ResponseTooLargeError

TEASER_CHARS = 200
"""Summaries shorter than this are teasers worth replacing with the page text."""

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MISSING_EXTRA = (
    "full-text extraction needs trafilatura: install the extra with "
    "`pip install 'newswatch[fulltext]'` or turn the full-text setting off"
)
_log = logging.getLogger(__name__)


def is_teaser(summary: str) -> bool:
    """Whether a feed summary is too short to stand for the article."""
    return len(summary.strip()) < TEASER_CHARS


def require_fulltext() -> None:
    """Raise ConfigError at start-up when full text is enabled but trafilatura is missing."""
    if _load_trafilatura() is None:
        raise ConfigError(_MISSING_EXTRA)


async def extract_full_text(client: httpx.AsyncClient, url: str, *, max_bytes: int) -> str | None:
    """The main text of the article at `url`, or None when there is none to be had.

    None when trafilatura is not installed (logged once per call with the fix),
    when the page is not HTML, or when no article text can be found. Raises
    FetchError for network errors and HTTP error statuses, and
    ResponseTooLargeError when the page exceeds `max_bytes`.
    """
    trafilatura = _load_trafilatura()
    if trafilatura is None:
        _log.warning(_MISSING_EXTRA)
        return None
    page = await _fetch_html(client, url, max_bytes=max_bytes)
    if page is None:
        return None
    text = await asyncio.to_thread(
        trafilatura.extract, page, url=url, include_comments=False, include_tables=False,
        favor_precision=True,
    )  # fmt: skip
    if not isinstance(text, str):
        return None
    return text.strip() or None


def _load_trafilatura() -> ModuleType | None:
    """trafilatura if the optional extra is installed."""
    try:
        return importlib.import_module("trafilatura")
    except ImportError:
        return None


async def _fetch_html(client: httpx.AsyncClient, url: str, *, max_bytes: int) -> bytes | None:
    """The page body, or None if it is not HTML; errors mapped to FetchError."""
    try:
        async with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code >= 400:
                raise FetchError(
                    f"article {url}: HTTP {response.status_code}", status=response.status_code
                )
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type and content_type not in _HTML_TYPES:
                return None
            return await _read_capped(response, url, max_bytes=max_bytes)
    except httpx.HTTPError as error:
        raise FetchError(f"article {url}: {type(error).__name__}: {error}") from error


async def _read_capped(response: httpx.Response, url: str, *, max_bytes: int) -> bytes:
    """Read the (decompressed) body, stopping as soon as it passes `max_bytes`."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise ResponseTooLargeError(
                f"article {url}: page is over {max_bytes} bytes; raise the full-text size cap "
                "or leave this feed's teasers as they are"
            )
    return bytes(body)
