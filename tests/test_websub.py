"""WebSub subscriber pieces: discovery, intent verification, signatures, and a
pushed body through the pipeline (on every store backend)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.core.errors import FetchError
from bot.pipeline.fetch import websub
from bot.pipeline.fetch.fetcher import Fetcher
from bot.pipeline.match import RuleBook
from bot.pipeline.poll import Pipeline, PollConfig
from bot.pipeline.push import ingest_push
from bot.store import SqlStore

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ATOM_FEED = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>
<link rel="hub" href="https://hub.example/"/><link rel="self" href="https://wire.example/atom"/>
<entry><id>urn:1</id><title>Drone strike hits depot</title>
<link href="https://wire.example/1"/><updated>2026-12-02T11:59:00Z</updated></entry></feed>"""
RSS_FEED = b"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel><title>Office</title><atom:link rel="hub" href="/hub"/>
<item><title>Statement</title><link>https://office.example/s</link></item></channel></rss>"""


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (ATOM_FEED, None, websub.HubLinks("https://hub.example/", "https://wire.example/atom")),
        (RSS_FEED, None, websub.HubLinks("https://office.example/hub", "https://office.example/rss")),
        (b"<rss/>", '<https://h.example/>; rel="hub", </t>; rel=self',
         websub.HubLinks("https://h.example/", "https://office.example/t")),
        (b"<rss/>", None, None),
        (b"not xml at all", None, None),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><rss/>', None, None),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><link rel="hub" href="ftp://x/"/></feed>',
         None, None),
    ],
)  # fmt: skip
def test_discovery(body: bytes, header: str | None, expected: websub.HubLinks | None) -> None:
    assert websub.discover(body, header, "https://office.example/rss") == expected


def test_the_link_header_wins_over_the_document() -> None:
    found = websub.discover(ATOM_FEED, '<https://other.example/hub>; rel="hub"', "https://w/")
    assert found == websub.HubLinks("https://other.example/hub", "https://wire.example/atom")


PENDING = websub.PendingIntent(topic="https://wire.example/atom", mode="subscribe")
TOPIC = PENDING.topic


@pytest.mark.parametrize(
    ("pending", "params", "answer"),
    [
        (PENDING, {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.challenge": "c1"}, "c1"),
        (PENDING, {"hub.mode": "unsubscribe", "hub.topic": TOPIC, "hub.challenge": "c"}, None),
        (PENDING, {"hub.mode": "subscribe", "hub.topic": "https://e/", "hub.challenge": "c"}, None),
        (PENDING, {"hub.mode": "subscribe", "hub.topic": TOPIC}, None),
        (None, {"hub.mode": "subscribe", "hub.topic": TOPIC, "hub.challenge": "c"}, None),
    ],
)  # fmt: skip
def test_intent_verification(
    pending: websub.PendingIntent | None, params: dict[str, str], answer: str | None
) -> None:
    assert websub.verification_answer(pending, params) == answer


def test_lease_seconds() -> None:
    assert websub.lease_seconds_of({"hub.lease_seconds": "86400"}) == 86400
    assert websub.lease_seconds_of({"hub.lease_seconds": "-5"}) is None
    assert websub.lease_seconds_of({}) is None


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_signatures(method: str) -> None:
    digest = hmac.new(b"s3cret", b"body", method).hexdigest()
    assert websub.signature_ok("s3cret", f"{method}={digest}", b"body")
    assert not websub.signature_ok("other", f"{method}={digest}", b"body")
    assert not websub.signature_ok("s3cret", f"{method}={digest}", b"body!")
    assert not websub.signature_ok("s3cret", f"md5={hashlib.md5(b'body').hexdigest()}", b"body")
    assert not websub.signature_ok("s3cret", None, b"body")
    assert not websub.signature_ok("s3cret", "garbage", b"body")


def test_secrets_and_ids_are_random() -> None:
    assert websub.new_secret() != websub.new_secret()
    assert len(websub.new_callback_id()) >= 32


async def test_a_hub_request_sends_the_form_and_maps_refusals() -> None:
    seen: list[bytes] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(202 if b"subscribe" in request.content else 500)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hub)) as client:
        await websub.request(
            client, "https://hub.example/", topic="https://t/", callback="https://me/cb",
            secret="s", lease_seconds=600,
        )  # fmt: skip
        assert b"hub.secret=s" in seen[0] and b"hub.lease_seconds=600" in seen[0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as c:
        with pytest.raises(FetchError, match="HTTP 500"):
            await websub.request(c, "https://hub.example/", topic="t", callback="c")


def signed(body: bytes, secret: str = "s3cret") -> str:
    return "sha256=" + hmac.new(secret.encode(), body, "sha256").hexdigest()


async def test_a_signed_push_is_stored_once_and_a_forged_one_never(store: SqlStore) -> None:
    feed = await store.add_feed("https://wire.example/atom", "Wire")
    async with httpx.AsyncClient() as client:
        pipeline = Pipeline(
            store=store,
            fetcher=Fetcher(client),
            rulebook=RuleBook(Path("unused.yaml")),
            config=PollConfig(interval_seconds=60),
            clock=lambda: NOW,
        )
        args = {"secret": "s3cret", "content_type": "application/atom+xml", "now": NOW}
        forged = await ingest_push(
            pipeline, feed, signature=signed(ATOM_FEED, "x"), body=ATOM_FEED, **args
        )  # type: ignore[arg-type]
        unsigned = await ingest_push(pipeline, feed, signature=None, body=ATOM_FEED, **args)  # type: ignore[arg-type]
        garbage = await ingest_push(pipeline, feed, signature=signed(b"junk"), body=b"junk", **args)  # type: ignore[arg-type]
        assert (forged.new_stories, unsigned.new_stories, garbage.new_stories) == (0, 0, 0)
        first = await ingest_push(
            pipeline, feed, signature=signed(ATOM_FEED), body=ATOM_FEED, **args
        )  # type: ignore[arg-type]
        again = await ingest_push(
            pipeline, feed, signature=signed(ATOM_FEED), body=ATOM_FEED, **args
        )  # type: ignore[arg-type]
    assert (first.new_stories, again.new_stories) == (1, 0)
