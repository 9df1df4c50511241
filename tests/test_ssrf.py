"""The SSRF guard: address classification, literal forms, and refusal at connect time."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from bot.core.errors import BlockedAddressError, FetchError
from bot.core.model import FeedState
from bot.pipeline.fetch.fetcher import Fetcher, FetchLimits, make_http_client
from bot.pipeline.fetch.ssrf import blocked_reason, literal_address
from tests.support.feed_server import FeedServer, LoopbackDialer, StaticResolver

NOW = datetime(2024, 4, 20, 12, 0, tzinfo=UTC)
PUBLIC = "93.184.215.14"
FEED = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.3.4", "a loopback address"),
        ("::1", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("100.127.255.254", "a shared (CGNAT) address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("::127.0.0.1", "a loopback address"),
        ("2002:7f00:1::", "a loopback address"),
        ("64:ff9b::a9fe:a9fe", "a link-local address"),
        ("93.184.215.14", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("::ffff:93.184.215.14", None),
    ],
)
def test_blocked_reason_classifies_addresses(address: str, reason: str | None) -> None:
    ip = ipaddress.ip_address(address)
    found = blocked_reason(ip)
    embedded_note = f" (embedded in {ip})"
    assert (found.removesuffix(embedded_note) if found else None) == reason


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("example.com", None),
        ("cafe.be", None),
        ("deadbeef", None),
    ],
)
def test_literal_address_accepts_the_forms_resolvers_accept(
    host: str, expected: str | None
) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == expected


def _fetcher(resolver: StaticResolver, dialer: LoopbackDialer | None = None) -> Fetcher:
    limits = FetchLimits()
    return Fetcher(make_http_client(limits, resolver=resolver, network_backend=dialer), limits)


async def test_name_resolving_to_loopback_is_refused_before_connecting() -> None:
    async with FeedServer() as server:
        server.serve_bytes("/feed", FEED)
        fetcher = _fetcher(StaticResolver({"evil.test": ["127.0.0.1"]}))
        with pytest.raises(BlockedAddressError) as caught:
            await fetcher.fetch(server.url("/feed", host="evil.test"), FeedState(), NOW)
    assert str(caught.value) == (
        f"refusing to fetch http://evil.test:{server.port}/feed: 127.0.0.1 is a loopback "
        "address; set NEWSWATCH_ALLOW_PRIVATE_NETWORKS=true to allow it"
    )
    assert server.hits["/feed"] == 0


async def test_any_private_answer_among_several_is_refused() -> None:
    resolver = StaticResolver({"mixed.test": [PUBLIC, "10.0.0.7"]})
    with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.7 is a private address"):
        await _fetcher(resolver).fetch("http://mixed.test/feed", FeedState(), NOW)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/feed",
        "http://2130706433:9/feed",
        "http://0x7f000001:9/feed",
        "http://127.1:9/feed",
        "http://[::1]:9/feed",
        "http://[::ffff:127.0.0.1]:9/feed",
        "http://0.0.0.0:9/feed",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
async def test_literal_internal_addresses_are_refused(url: str) -> None:
    resolver = StaticResolver({})
    with pytest.raises(BlockedAddressError, match="refusing to fetch"):
        await _fetcher(resolver).fetch(url, FeedState(), NOW)
    assert resolver.calls == []


async def test_redirect_hop_to_an_internal_name_is_refused() -> None:
    resolver = StaticResolver({"news.test": [PUBLIC], "metadata.test": ["169.254.169.254"]})
    dialer = LoopbackDialer()
    async with FeedServer() as server:
        server.redirect("/feed", server.url("/secret", host="metadata.test"))
        server.serve_bytes("/secret", b"credentials")
        with pytest.raises(BlockedAddressError) as caught:
            await _fetcher(resolver, dialer).fetch(
                server.url("/feed", host="news.test"), FeedState(), NOW
            )
    assert "metadata.test" in str(caught.value)
    assert "169.254.169.254 is a link-local address" in str(caught.value)
    assert server.hits == {"/feed": 1}
    assert dialer.dialled == [PUBLIC]


async def test_dns_rebinding_is_caught_on_the_next_connection() -> None:
    resolver = StaticResolver({"rebind.test": [PUBLIC]})
    async with FeedServer() as server:
        server.serve_bytes("/feed", FEED, headers={"Connection": "close"})
        fetcher = _fetcher(resolver, LoopbackDialer())
        url = server.url("/feed", host="rebind.test")
        first = await fetcher.fetch(url, FeedState(), NOW)
        resolver.answers["rebind.test"] = ["127.0.0.1"]
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1 is a loopback address"):
            await fetcher.fetch(url, FeedState(), NOW)
    assert first.status == 200
    assert server.hits["/feed"] == 1


async def test_allow_private_networks_lets_loopback_through() -> None:
    limits = FetchLimits(allow_private_networks=True)
    resolver = StaticResolver({"intranet.test": ["127.0.0.1"]})
    fetcher = Fetcher(make_http_client(limits, resolver=resolver), limits)
    async with FeedServer() as server:
        server.serve_bytes("/feed", FEED)
        response = await fetcher.fetch(server.url("/feed", host="intranet.test"), FeedState(), NOW)
    assert response.body == FEED


async def test_unknown_name_is_a_dns_fetch_error() -> None:
    with pytest.raises(FetchError, match=r"DNS lookup failed for nowhere\.test") as caught:
        await _fetcher(StaticResolver({})).fetch("http://nowhere.test/", FeedState(), NOW)
    assert not isinstance(caught.value, BlockedAddressError)
