"""Full text for teaser-only items: a real article page on loopback, through the
fetcher's SSRF-guarded client, and end to end through `poll_once`."""

from __future__ import annotations

import io
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import metrics
from bot.core.errors import BlockedAddressError, ConfigError, FetchError, ResponseTooLargeError
from bot.core.model import ALL_RULES, Destination
from bot.core.settings import load_settings
from bot.pipeline.fetch import Fetcher, FetchLimits, make_http_client
from bot.pipeline.fetch.fulltext import (
    PAGE_MAX_BYTES,
    PAGE_TIMEOUT_SECONDS,
    TEASER_CHARS,
    FullText,
    is_teaser,
    page_limits,
)
from bot.pipeline.poll import poll_once
from bot.platforms.console import ConsoleNotifier
from bot.service.app import build_app
from tests.support.feed_server import FeedServer

ARTICLE = (Path(__file__).parent / "data" / "article.html").read_bytes()
NOW = datetime(2026, 1, 1, tzinfo=UTC)
MB = 1 << 20
LOCAL = FetchLimits(allow_private_networks=True)
HTML = "text/html; charset=utf-8"
BODY_ONLY = "Washington announced $2.6 billion in additional funding"


@pytest.fixture
async def site() -> AsyncIterator[FeedServer]:
    """A loopback news site: an article, a redirect to it, a gzip bomb, JSON, a 404."""
    async with FeedServer() as server:
        server.serve_bytes("/world/kremlin-drone", ARTICLE, content_type=HTML)
        server.redirect("/old-link", "/world/kremlin-drone", status=302)
        bomb = b"<html><body><p>" + b"a" * (4 * MB) + b"</p></body></html>"
        server.serve_bytes("/bomb", bomb, content_type=HTML, gzip=True)
        server.serve_bytes("/api", b'{"not": "html"}', content_type="application/json")
        server.fail("/gone", status=404)
        yield server


def full_text(limits: FetchLimits = LOCAL) -> FullText:
    return FullText(Fetcher(make_http_client(limits), limits))


@pytest.mark.parametrize("path", ["/world/kremlin-drone", "/old-link"])
async def test_extracts_the_article_body_only(site: FeedServer, path: str) -> None:
    text = await full_text().page_text(site.url(path), NOW)
    assert text is not None
    assert "Russia claimed on Thursday that the United States was behind" in text
    assert BODY_ONLY in text
    assert text.rstrip().endswith("set the stage for the fight to come.")
    for noise in (
        "Sign up for our newsletter",
        "reader123",
        "All rights reserved",
        "Red Square prepares",
        "Advertisement",
        "Privacy policy",
    ):
        assert noise not in text  # fmt: skip


async def test_not_html_gives_none(site: FeedServer) -> None:
    assert await full_text().page_text(site.url("/api"), NOW) is None


async def test_http_error_is_a_fetch_error(site: FeedServer) -> None:
    with pytest.raises(FetchError, match="HTTP 404") as raised:
        await full_text().page_text(site.url("/gone"), NOW)
    assert raised.value.status == 404


async def test_page_over_the_cap(site: FeedServer) -> None:
    small = FetchLimits(allow_private_networks=True, max_bytes=1000)
    with pytest.raises(ResponseTooLargeError, match="larger than 1000 bytes"):
        await full_text(small).page_text(site.url("/world/kremlin-drone"), NOW)


async def test_cap_applies_after_decompression(site: FeedServer) -> None:
    with pytest.raises(ResponseTooLargeError):
        await full_text(page_limits(LOCAL)).page_text(site.url("/bomb"), NOW)


def test_page_caps_are_tighter_than_the_feed_caps() -> None:
    limits = page_limits(FetchLimits())
    assert (limits.max_bytes, limits.total_timeout) == (PAGE_MAX_BYTES, PAGE_TIMEOUT_SECONDS)
    assert page_limits(FetchLimits(max_bytes=1000)).max_bytes == 1000


async def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="connection refused"):
        await full_text().page_text(f"http://127.0.0.1:{port}/x", NOW)


async def test_pages_go_through_the_ssrf_guard(site: FeedServer) -> None:
    with pytest.raises(BlockedAddressError, match="loopback"):
        await full_text(FetchLimits()).page_text(site.url("/world/kremlin-drone"), NOW)


def test_without_the_extra_it_is_one_line_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # makes the import fail
    with pytest.raises(ConfigError, match=r"newswatch\[fulltext\]") as raised:
        full_text()
    assert "\n" not in str(raised.value) and "NEWSWATCH_FULLTEXT=false" in str(raised.value)


@pytest.mark.parametrize(
    ("summary", "teaser"),
    [
        ("", True),
        ("Refugee Marwa Koofi and her family were captured at Kabul airport", True),
        ("x" * (TEASER_CHARS - 1), True),
        ("x" * TEASER_CHARS, False),
    ],
)
def test_is_teaser(summary: str, teaser: bool) -> None:
    assert is_teaser(summary) is teaser


# ── end to end: poll_once with NEWSWATCH_FULLTEXT ──────────────────────────

LONG = "A full summary that says everything the matcher needs to know. " * 4
FEED = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Kremlin drone claim</title><link>{{base}}/world/kremlin-drone</link>
<guid>teaser</guid><description>Russia blames Washington.</description>
<pubDate>Thu, 01 Jan 2026 00:00:00 GMT</pubDate></item>
<item><title>Another story</title><link>{{base}}/long-summary</link><guid>long</guid>
<description>{LONG}</description><pubDate>Thu, 01 Jan 2026 00:00:00 GMT</pubDate></item>
</channel></rss>"""
RULES = """rules:
  - name: funding
    description: A funding announcement, said only in the article body
    query: 'content:"additional funding"'
"""


async def poll_with_fulltext(tmp_path: Path, site: FeedServer, enabled: bool) -> str:
    """One poll of the feed with a console subscriber; returns what the console showed."""
    site.serve_bytes("/feed.xml", FEED.format(base=site.url("")).encode())
    site.serve_bytes("/long-summary", ARTICLE, content_type=HTML)
    (tmp_path / "rules.yaml").write_text(RULES)
    settings = load_settings(
        overrides={
            "data_dir": tmp_path,
            "rules_file": tmp_path / "rules.yaml",
            "allow_private_networks": True,
            "feeds_file": None,
            "semantic": "off",
            "fulltext": enabled,
        }
    )
    out = io.StringIO()
    app = await build_app(settings, notifiers={"console": ConsoleNotifier(stream=out)})
    try:
        await app.store.add_feed(site.url("/feed.xml"), "wire", backfill=10)
        await app.store.subscribe(Destination("console", "desk"), [ALL_RULES], actor="test")
        report = await poll_once(app.pipeline)
        assert report.new_stories == 2 and report.errors == ()
        await app.deliverer.deliver_pending()
    finally:
        await app.close()
    return out.getvalue()


async def test_poll_once_reads_the_article_of_a_teaser_only_item(
    tmp_path: Path, site: FeedServer
) -> None:
    extracted = metrics.REGISTRY.get_sample_value(
        "newswatch_fulltext_total", {"outcome": "extracted"}
    )
    shown = await poll_with_fulltext(tmp_path, site, enabled=True)
    assert "Kremlin drone claim" in shown and "funding" in shown
    assert "Another story" not in shown
    assert site.hits["/world/kremlin-drone"] == 1
    assert site.hits["/long-summary"] == 0  # its summary is no teaser: no page fetched
    after = metrics.REGISTRY.get_sample_value("newswatch_fulltext_total", {"outcome": "extracted"})
    assert (after or 0) - (extracted or 0) == 1


async def test_off_by_default_no_page_is_fetched(tmp_path: Path, site: FeedServer) -> None:
    assert load_settings(overrides={"feeds_file": None}).fulltext is False
    shown = await poll_with_fulltext(tmp_path, site, enabled=False)
    assert shown == ""
    assert site.hits["/world/kremlin-drone"] == 0


async def test_a_failing_page_leaves_the_story_as_the_feed_gave_it(
    tmp_path: Path, site: FeedServer
) -> None:
    site.fail("/world/kremlin-drone", status=503)
    assert await poll_with_fulltext(tmp_path, site, enabled=True) == ""
    assert site.hits["/world/kremlin-drone"] == 1
