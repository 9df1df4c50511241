"""The fetcher against a real HTTP(S) server on loopback."""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpcore
import pytest

from bot.core.errors import FetchError, ResponseTooLargeError
from bot.core.model import FeedState
from bot.pipeline.fetch.fetcher import (
    Fetcher,
    FetchLimits,
    make_http_client,
    parse_max_age,
    parse_retry_after,
)
from tests.support.data import FEEDS
from tests.support.feed_server import FeedServer, Route, StaticResolver

NOW = datetime(2024, 4, 20, 12, 0, tzinfo=UTC)
CORPUS = FEEDS
NPR = CORPUS / "npr" / "npr-news-2024-04-20T1232Z.xml"
LOCAL = FetchLimits(allow_private_networks=True, per_host_spacing=0)  # spacing: its own tests


def _fetcher(limits: FetchLimits = LOCAL, resolver: StaticResolver | None = None) -> Fetcher:
    if resolver is None:
        return Fetcher(make_http_client(limits), limits)
    return Fetcher(make_http_client(limits, resolver=resolver), limits)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


async def test_plain_200_returns_body_and_caching_headers(server: FeedServer) -> None:
    server.serve_file(
        "/npr.xml",
        NPR,
        etag='"v1"',
        last_modified="Sat, 20 Apr 2024 12:00:00 GMT",
        headers={"Cache-Control": "public, max-age=300"},
    )
    response = await _fetcher().fetch(server.url("/npr.xml"), FeedState(), NOW)
    assert response.status == 200
    assert response.body == NPR.read_bytes()
    assert response.final_url == response.url == server.url("/npr.xml")
    assert response.content_type == "application/rss+xml; charset=utf-8"
    assert (response.etag, response.last_modified) == ('"v1"', "Sat, 20 Apr 2024 12:00:00 GMT")
    assert response.max_age_seconds == 300
    assert response.fetched_at == NOW
    assert server.requests["/npr.xml"][0]["User-Agent"].startswith("newswatch/0.1")


async def test_etag_gives_304_and_a_changed_route_gives_200(server: FeedServer) -> None:
    server.serve_file("/feed", NPR, etag='"v1"')
    fetcher = _fetcher()
    first = await fetcher.fetch(server.url("/feed"), FeedState(), NOW)
    second = await fetcher.fetch(server.url("/feed"), FeedState(etag=first.etag), NOW)
    server.serve_bytes("/feed", b"<rss/>", etag='"v2"')
    third = await fetcher.fetch(server.url("/feed"), FeedState(etag=first.etag), NOW)
    assert (second.status, second.body, second.not_modified) == (304, b"", True)
    assert server.requests["/feed"][1]["If-None-Match"] == '"v1"'
    assert (third.status, third.body, third.etag) == (200, b"<rss/>", '"v2"')


async def test_last_modified_is_sent_as_if_modified_since(server: FeedServer) -> None:
    stamp = "Sat, 20 Apr 2024 12:00:00 GMT"
    server.serve_file("/feed", NPR, last_modified=stamp)
    response = await _fetcher().fetch(server.url("/feed"), FeedState(last_modified=stamp), NOW)
    assert response.status == 304
    assert server.requests["/feed"][0]["If-Modified-Since"] == stamp


async def test_gzip_body_is_decompressed(server: FeedServer) -> None:
    server.serve_file("/feed", NPR, gzip=True)
    response = await _fetcher().fetch(server.url("/feed"), FeedState(), NOW)
    assert response.body == NPR.read_bytes()
    assert "gzip" in server.requests["/feed"][0]["Accept-Encoding"]


async def test_relative_redirects_are_followed(server: FeedServer) -> None:
    server.redirect("/a", "/b", status=301)
    server.redirect("/b", "c", status=307)
    server.serve_bytes("/c", b"<rss/>")
    response = await _fetcher().fetch(server.url("/a"), FeedState(), NOW)
    assert (response.url, response.final_url) == (server.url("/a"), server.url("/c"))
    assert response.body == b"<rss/>"


@pytest.mark.parametrize(("hops", "ok"), [(5, True), (6, False)])
async def test_redirect_limit(server: FeedServer, hops: int, ok: bool) -> None:
    for hop in range(hops):
        server.redirect(f"/r{hop}", f"/r{hop + 1}")
    server.serve_bytes(f"/r{hops}", b"<rss/>")
    fetch = _fetcher().fetch(server.url("/r0"), FeedState(), NOW)
    if ok:
        assert (await fetch).body == b"<rss/>"
    else:
        with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
            await fetch


@pytest.mark.parametrize("location", ["ftp://example.com/feed", "file:///etc/passwd"])
async def test_redirect_to_another_scheme_is_refused(server: FeedServer, location: str) -> None:
    server.redirect("/feed", location)
    with pytest.raises(FetchError, match="not http"):
        await _fetcher().fetch(server.url("/feed"), FeedState(), NOW)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (500, {}, None),
        (404, {}, None),
        (503, {"Retry-After": "120"}, 120.0),
        (429, {"Retry-After": "Sat, 20 Apr 2024 12:05:00 GMT"}, 300.0),
    ],
)
async def test_error_statuses_raise_fetch_error(
    server: FeedServer, status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    server.fail("/feed", status=status, headers=headers)
    with pytest.raises(FetchError, match=f"HTTP {status} ") as caught:
        await _fetcher().fetch(server.url("/feed"), FeedState(), NOW)
    assert (caught.value.status, caught.value.retry_after) == (status, retry_after)


@pytest.mark.parametrize(
    "route",
    [
        Route(stream_bytes=3 * 1024 * 1024),
        Route(body=b"x" * (2 * 1024 * 1024)),
        Route(body=b"\n" * (3 * 1024 * 1024), gzip=True),
    ],
    ids=["streamed", "content-length", "gzip-bomb"],
)
async def test_bodies_over_the_cap_are_refused(server: FeedServer, route: Route) -> None:
    server.route("/huge", route)
    limits = FetchLimits(allow_private_networks=True, max_bytes=1024 * 1024)
    with pytest.raises(ResponseTooLargeError, match="larger than 1048576 bytes"):
        await _fetcher(limits).fetch(server.url("/huge"), FeedState(), NOW)


async def test_body_at_the_cap_is_accepted(server: FeedServer) -> None:
    server.serve_bytes("/feed", b"\n" * 1024, gzip=True)
    limits = FetchLimits(allow_private_networks=True, max_bytes=1024)
    assert len((await _fetcher(limits).fetch(server.url("/feed"), FeedState(), NOW)).body) == 1024


async def test_connection_refused_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        await _fetcher().fetch(f"http://127.0.0.1:{port}/feed", FeedState(), NOW)
    assert str(caught.value) == "connection refused"


async def test_read_timeout(server: FeedServer) -> None:
    server.route("/slow", Route(body=b"<rss/>", hold=asyncio.Event()))
    limits = FetchLimits(allow_private_networks=True, read_timeout=0.2)
    with pytest.raises(FetchError, match=r"^read timed out after 0\.2 s$"):
        await _fetcher(limits).fetch(server.url("/slow"), FeedState(), NOW)


async def test_total_deadline_covers_the_whole_fetch(server: FeedServer) -> None:
    server.redirect("/a", "/b")
    server.route("/b", Route(body=b"<rss/>", hold=asyncio.Event()))
    limits = FetchLimits(allow_private_networks=True, read_timeout=10, total_timeout=0.3)
    with pytest.raises(FetchError, match=r"^timed out after 0\.3 s$"):
        await _fetcher(limits).fetch(server.url("/a"), FeedState(), NOW)


async def test_slow_host_uses_at_most_two_connections_and_blocks_no_one(
    server: FeedServer,
) -> None:
    release = asyncio.Event()
    server.route("/slow", Route(body=b"<rss/>", hold=release))
    server.serve_bytes("/fast", b"<rss/>")
    resolver = StaticResolver({"slow.test": ["127.0.0.1"], "fast.test": ["127.0.0.1"]})
    fetcher = _fetcher(resolver=resolver)
    slow = [
        asyncio.create_task(fetcher.fetch(server.url("/slow", host="slow.test"), FeedState(), NOW))
        for _ in range(4)
    ]
    fast = await fetcher.fetch(server.url("/fast", host="fast.test"), FeedState(), NOW)
    assert fast.status == 200
    assert not any(task.done() for task in slow)
    release.set()
    results = await asyncio.gather(*slow)
    assert [r.status for r in results] == [200] * 4
    assert server.max_in_flight["/slow"] == 2


class CountingBackend(httpcore.AnyIOBackend):
    """The real dialler, counting the TCP connections it opens."""

    def __init__(self) -> None:
        self.connects = 0

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.connects += 1
        return await super().connect_tcp(*args, **kwargs)


async def test_304s_and_redirects_keep_their_connection(server: FeedServer) -> None:
    server.serve_file("/feed", NPR, etag='"v1"')
    server.redirect("/old", "/feed", status=301)
    backend = CountingBackend()
    fetcher = Fetcher(make_http_client(LOCAL, network_backend=backend), LOCAL)
    for _ in range(5):
        response = await fetcher.fetch(server.url("/feed"), FeedState(etag='"v1"'), NOW)
        assert response.not_modified
    assert (await fetcher.fetch(server.url("/old"), FeedState(), NOW)).status == 200
    assert backend.connects == 1


async def test_concurrent_fetches_share_the_pool_without_losing_any(server: FeedServer) -> None:
    server.route("/slow", Route(body=b"<rss/>", delay=0.01))
    limits = FetchLimits(
        allow_private_networks=True,
        per_host_concurrency=3,
        global_concurrency=3,
        per_host_spacing=0,
    )
    backend = CountingBackend()
    fetcher = Fetcher(make_http_client(limits, network_backend=backend), limits)
    urls = [server.url("/slow") for _ in range(30)]
    results = await asyncio.gather(*(fetcher.fetch(url, FeedState(), NOW) for url in urls))
    assert [r.body for r in results] == [b"<rss/>"] * 30
    assert server.max_in_flight["/slow"] == 3
    assert backend.connects == 3


async def test_fetches_from_one_host_start_at_least_the_spacing_apart(
    server: FeedServer,
) -> None:
    server.serve_bytes("/feed", b"<rss/>")
    limits = FetchLimits(allow_private_networks=True, per_host_concurrency=4, per_host_spacing=0.2)
    fetcher = Fetcher(make_http_client(limits), limits)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(fetcher.fetch(server.url("/feed"), FeedState(), NOW) for _ in range(4)))
    assert loop.time() - started >= 3 * 0.2  # the 4th starts three spacings after the 1st
    assert server.hits["/feed"] == 4


async def test_two_servers_on_one_address_are_spaced_separately(server: FeedServer) -> None:
    server.serve_bytes("/feed", b"<rss/>")
    limits = FetchLimits(allow_private_networks=True, per_host_spacing=30)
    fetcher = Fetcher(make_http_client(limits), limits)
    async with FeedServer() as other:
        other.serve_bytes("/feed", b"<rss/>")
        both = (fetcher.fetch(s.url("/feed"), FeedState(), NOW) for s in (server, other))
        async with asyncio.timeout(20):  # one host:port each: neither waits the 30 s
            await asyncio.gather(*both)


@pytest.mark.parametrize("url", ["ftp://example.com/feed", "file:///etc/passwd", "not a url"])
async def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="only http:// and https://"):
        await _fetcher().fetch(url, FeedState(), NOW)


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_untrusted_certificate_is_a_tls_error(tmp_path: Path) -> None:
    async with FeedServer(ssl_context=_self_signed(tmp_path)) as tls_server:
        tls_server.serve_bytes("/feed", b"<rss/>")
        with pytest.raises(FetchError, match=r"^TLS error: CERTIFICATE_VERIFY_FAILED"):
            await _fetcher().fetch(tls_server.url("/feed"), FeedState(), NOW)
        assert tls_server.hits["/feed"] == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sat, 20 Apr 2024 12:01:30 GMT", 90.0),
        ("Sat, 20 Apr 2024 11:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("no-cache", None),
        ("max-age=600", 600.0),
        ("public, max-age=60, s-maxage=300", 60.0),
        ('private, MAX-AGE="90"', 90.0),
        ("s-maxage=300", None),
    ],
)
def test_parse_max_age(value: str | None, expected: float | None) -> None:
    assert parse_max_age(value) == expected


def test_gzip_bomb_route_really_is_small_on_the_wire() -> None:
    assert len(gzip.compress(b"\n" * (3 * 1024 * 1024))) < 10 * 1024
