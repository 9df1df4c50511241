"""Full-text extraction against a real article page served on loopback."""

from __future__ import annotations

import gzip
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from bot.core.errors import ConfigError, FetchError, ResponseTooLargeError
from bot.pipeline.fetch.fulltext import TEASER_CHARS, extract_full_text, is_teaser, require_fulltext

ARTICLE = (Path(__file__).parent / "data" / "article.html").read_bytes()
MB = 1 << 20


async def article(_: web.Request) -> web.Response:
    return web.Response(body=ARTICLE, content_type="text/html", charset="utf-8")


async def gzip_bomb(_: web.Request) -> web.Response:
    body = gzip.compress(b"<html><body><p>" + b"a" * (4 * MB) + b"</p></body></html>")
    return web.Response(
        body=body, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )


async def json_body(_: web.Request) -> web.Response:
    return web.json_response({"not": "html"})


async def missing(_: web.Request) -> web.Response:
    return web.Response(status=404, text="gone")


async def moved(_: web.Request) -> web.Response:
    raise web.HTTPFound("/world/kremlin-drone")


@pytest.fixture
async def site() -> AsyncIterator[str]:
    """A loopback news site; yields its base URL."""
    app = web.Application()
    app.router.add_get("/world/kremlin-drone", article)
    app.router.add_get("/old-link", moved)
    app.router.add_get("/bomb", gzip_bomb)
    app.router.add_get("/api", json_body)
    app.router.add_get("/gone", missing)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


@pytest.mark.parametrize("path", ["/world/kremlin-drone", "/old-link"])
async def test_extracts_the_article_body_only(
    site: str, client: httpx.AsyncClient, path: str
) -> None:
    text = await extract_full_text(client, site + path, max_bytes=MB)
    assert text is not None
    assert "Russia claimed on Thursday that the United States was behind" in text
    assert "Washington announced $2.6 billion in additional funding" in text
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


async def test_not_html_gives_none(site: str, client: httpx.AsyncClient) -> None:
    assert await extract_full_text(client, site + "/api", max_bytes=MB) is None


async def test_http_error_is_a_fetch_error(site: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(FetchError, match="HTTP 404") as raised:
        await extract_full_text(client, site + "/gone", max_bytes=MB)
    assert raised.value.status == 404


async def test_page_over_the_cap(site: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(ResponseTooLargeError, match="over 1000 bytes"):
        await extract_full_text(client, site + "/world/kremlin-drone", max_bytes=1000)


async def test_cap_applies_after_decompression(site: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(ResponseTooLargeError):
        await extract_full_text(client, site + "/bomb", max_bytes=MB)


async def test_connection_refused_is_a_fetch_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="ConnectError"):
        await extract_full_text(client, f"http://127.0.0.1:{port}/x", max_bytes=MB)


async def test_without_the_extra(
    monkeypatch: pytest.MonkeyPatch, site: str, client: httpx.AsyncClient
) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # makes the import fail
    assert await extract_full_text(client, site + "/world/kremlin-drone", max_bytes=MB) is None
    with pytest.raises(ConfigError, match=r"newswatch\[fulltext\]"):
        require_fulltext()


def test_require_fulltext_passes_when_installed() -> None:
    require_fulltext()


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
