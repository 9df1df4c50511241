"""WebSub bad input, through the real service (see tests/test_websub_e2e.py): a hub that
never verifies, answers 4xx/5xx, denies or sits on a private address; pushes of
garbage, huge or unsigned bodies; callbacks for unknown ids or for what we did not
ask; NEWSWATCH_PUBLIC_URL that is not a URL. Each: one clear log line or error,
nothing else disturbed, the feed still polled."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.core import metrics
from bot.core.errors import ConfigError
from bot.core.model import DueFeed, FeedResponse, FeedState, PushState
from bot.core.settings import load_settings
from bot.pipeline.fetch import FetchLimits, make_http_client
from bot.pipeline.health import feed_list_lines
from bot.pipeline.subscribe import (
    RETRY_FIRST_SECONDS,
    UNSUBSCRIBE_ATTEMPTS,
    VERIFY_TIMEOUT_SECONDS,
    Subscriber,
)
from tests.test_websub_e2e import World, websub_world


def pushes(outcome: str) -> float:
    sample = "newswatch_websub_pushes_total"
    return metrics.REGISTRY.get_sample_value(sample, {"outcome": outcome}) or 0.0


async def post(world: World, path: str, body: bytes, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{world.http.port}{path}"
        return await client.post(url, content=body, headers=headers)


async def get(world: World, path: str, params: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://127.0.0.1:{world.http.port}{path}", params=params)


async def still_polled(world: World) -> None:
    """The feed is polled as usual, at the normal interval."""
    await world.poll()
    [health] = await world.app.store.list_feeds()
    assert health.state.last_status == 200 and health.state.error_count == 0
    assert health.state.interval_seconds == 60


async def test_a_hub_that_never_verifies_fails_after_the_timeout_and_is_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with websub_world(tmp_path) as world:
        world.hub.verify = False
        await world.poll()
        assert (await world.subscription()).state is PushState.SUBSCRIBING
        [listed] = await feed_list_lines(world.app.store)
        assert "push: pending" in listed
        world.clock.offset += timedelta(seconds=VERIFY_TIMEOUT_SECONDS + 1)
        with caplog.at_level(logging.WARNING, "bot.pipeline.subscribe"):
            await world.maintain()
        [line] = [
            r.getMessage()
            for r in caplog.records
            if r.name == "bot.pipeline.subscribe" and r.levelno >= logging.WARNING
        ]
        assert "did not verify within 10 min" in line and "polled as before" in line
        failed = await world.subscription()
        assert failed.state is PushState.FAILED and failed.attempts == 1
        [listed] = await feed_list_lines(world.app.store)
        assert "push: failed (the hub did not verify within 10 min)" in listed
        await still_polled(world)
        # after the backoff, the hub is asked again; this time it verifies
        world.hub.verify = True
        await world.maintain()
        assert len(world.hub.requests_of("subscribe")) == 1  # backoff not over yet
        world.clock.offset += timedelta(seconds=RETRY_FIRST_SECONDS + 1)
        await world.maintain()
        assert len(world.hub.requests_of("subscribe")) == 2
        assert (await world.subscription()).state is PushState.ACTIVE


@pytest.mark.parametrize("status", [403, 404, 500, 503])
async def test_a_hub_answering_4xx_or_5xx_is_one_line_and_the_feed_still_polled(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    async with websub_world(tmp_path) as world:
        world.hub.refuse_with = status
        with caplog.at_level(logging.WARNING, "bot.pipeline.subscribe"):
            await world.poll()
        [line] = [
            r.getMessage()
            for r in caplog.records
            if r.name == "bot.pipeline.subscribe" and r.levelno >= logging.WARNING
        ]
        assert f"refused the subscribe request: HTTP {status}" in line
        sub = await world.subscription()
        assert sub.state is PushState.FAILED and sub.retry_at is not None
        assert sub.retry_at - sub.requested_at == timedelta(seconds=RETRY_FIRST_SECONDS)
        await still_polled(world)
        assert len(world.hub.requests) == 1  # not asked again on each poll
        # the backoff doubles on each failure
        world.clock.offset += timedelta(seconds=RETRY_FIRST_SECONDS + 1)
        await world.maintain()
        again = await world.subscription()
        assert again.attempts == 2 and again.retry_at is not None
        assert again.retry_at - world.clock() > timedelta(seconds=1.9 * RETRY_FIRST_SECONDS)


async def test_a_hub_that_denies_the_subscription_is_recorded(tmp_path: Path) -> None:
    async with websub_world(tmp_path) as world:
        await world.poll()
        [subscribe] = world.hub.requests_of("subscribe")
        status = await world.hub.deny(world.feed_url, subscribe["hub.callback"], "not allowed")
        assert status == 200
        sub = await world.subscription()
        assert sub.state is PushState.FAILED
        assert sub.last_error == "the hub denied the subscription: not allowed"
        await still_polled(world)


async def test_a_hub_on_a_private_address_is_refused_by_the_ssrf_guard(tmp_path: Path) -> None:
    async with websub_world(tmp_path) as world:
        guarded = make_http_client(FetchLimits(allow_private_networks=False))
        subscriber = Subscriber(world.app.pipeline, guarded, "https://newswatch.example", 1 << 20)
        [health] = await world.app.store.list_feeds()
        response = FeedResponse(
            url=world.feed_url,
            final_url=world.feed_url,
            status=200,
            body=world.feed_body(*world.items),
            fetched_at=world.clock(),
        )
        try:
            subscriber.notice(DueFeed(health.feed, FeedState()), response)
            await subscriber.settle()
        finally:
            await guarded.aclose()
        assert world.hub.requests == []
        sub = await world.subscription()
        assert sub.state is PushState.FAILED
        assert sub.last_error is not None and "loopback" in sub.last_error


async def test_garbage_huge_and_unsigned_pushes_are_answered_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with websub_world(tmp_path, max_feed_bytes=4096) as world:
        await world.poll()
        [subscribe] = world.hub.requests_of("subscribe")
        path = "/websub/" + subscribe["hub.callback"].rsplit("/", 1)[1]
        before = {o: pushes(o) for o in ("unparsable", "too_large", "bad_signature")}
        with caplog.at_level(logging.WARNING):
            # garbage, correctly signed
            assert await world.hub.publish(world.feed_url, b"\x00\x89 not a feed") == [202]
            # huge: over NEWSWATCH_MAX_FEED_BYTES, declared or streamed
            huge = world.feed_body(world.story("Iran huge " + "x" * 8000))
            assert await world.hub.publish(world.feed_url, huge) == [202]
            chunks = (huge[i : i + 1000] for i in range(0, len(huge), 1000))
            async with httpx.AsyncClient() as client:
                url = f"http://127.0.0.1:{world.http.port}{path}"
                streamed = await client.post(url, content=_stream(chunks))
            assert streamed.status_code == 202
            # unsigned, and signed with an unknown method
            unsigned = world.feed_body(world.story("Iran unsigned"))
            assert (await post(world, path, unsigned)).status_code == 202
            odd = await post(world, path, unsigned, **{"X-Hub-Signature": "md5=abc"})
            assert odd.status_code == 202
        assert pushes("unparsable") == before["unparsable"] + 1
        assert pushes("too_large") == before["too_large"] + 2
        assert pushes("bad_signature") == before["bad_signature"] + 2
        assert any("body over 4096 bytes" in r.getMessage() for r in caplog.records)
        assert any("missing X-Hub-Signature" in r.getMessage() for r in caplog.records)
        await world.deliver()
        assert world.alerts() == []
        assert (await world.subscription()).state is PushState.ACTIVE
        await still_polled_pushed(world)


async def _stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def still_polled_pushed(world: World) -> None:
    await world.poll()
    [health] = await world.app.store.list_feeds()
    assert health.state.last_status == 200 and health.state.error_count == 0


async def test_callbacks_for_unknown_ids_or_unasked_intents_are_404(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with websub_world(tmp_path) as world:
        await world.poll()
        [subscribe] = world.hub.requests_of("subscribe")
        path = "/websub/" + subscribe["hub.callback"].rsplit("/", 1)[1]
        challenge = {"hub.challenge": "xyz", "hub.lease_seconds": "60"}
        with caplog.at_level(logging.WARNING, "bot.pipeline.subscribe"):
            assert (await post(world, "/websub/nobody", b"<rss/>")).status_code == 404
            asked = {"hub.mode": "subscribe", "hub.topic": world.feed_url, **challenge}
            assert (await get(world, "/websub/nobody", asked)).status_code == 404
        assert any("unknown callback id nobody" in r.getMessage() for r in caplog.records)
        wrong_topic = {**asked, "hub.topic": "https://elsewhere.example/feed"}
        assert (await get(world, path, wrong_topic)).status_code == 404
        unasked = {**asked, "hub.mode": "unsubscribe"}
        assert (await get(world, path, unasked)).status_code == 404
        no_challenge = {"hub.mode": "subscribe", "hub.topic": world.feed_url}
        assert (await get(world, path, no_challenge)).status_code == 404
        echoed = await get(world, path, asked)
        assert (echoed.status_code, echoed.text) == (200, "xyz")
        sub = await world.subscription()
        assert sub.state is PushState.ACTIVE and sub.lease_seconds == 60


async def test_callbacks_without_a_public_url_are_404(tmp_path: Path) -> None:
    async with websub_world(tmp_path, public=False) as world:
        assert (await post(world, "/websub/any", b"<rss/>")).status_code == 404
        params = {"hub.mode": "subscribe", "hub.topic": "t", "hub.challenge": "c"}
        assert (await get(world, "/websub/any", params)).status_code == 404


@pytest.mark.parametrize(
    "value",
    ["newswatch.example.org", "ftp://newswatch.example.org", "http://", "https:///path",
     "https://newswatch.example.org/?a=1"],
)  # fmt: skip
def test_a_public_url_that_is_not_an_http_url_is_one_clear_error(value: str) -> None:
    with pytest.raises(ConfigError, match=r"NEWSWATCH_PUBLIC_URL: value error, must .*") as err:
        load_settings(overrides={"public_url": value})
    assert "\n" not in str(err.value)


def test_a_public_url_is_optional_and_kept_without_a_trailing_slash() -> None:
    assert load_settings(overrides={"public_url": ""}).public_url is None
    assert load_settings().public_url is None
    settings = load_settings(overrides={"public_url": " https://nw.example.org/base/ "})
    assert settings.public_url == "https://nw.example.org/base"


async def test_an_unsubscribe_the_hub_never_takes_is_retried_then_forgotten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with websub_world(tmp_path) as world:
        await world.poll()
        await world.app.store.remove_feed(world.feed_url)
        world.hub.refuse_with = 502
        with caplog.at_level(logging.WARNING, "bot.pipeline.subscribe"):
            for attempt in range(1, UNSUBSCRIBE_ATTEMPTS + 1):
                await world.maintain()
                sub = await world.subscription()
                assert (sub.state, sub.attempts) == (PushState.UNSUBSCRIBING, attempt)
                await world.maintain()  # waits for the verification timeout first
                assert len(world.hub.requests_of("unsubscribe")) == attempt
                world.clock.offset += timedelta(seconds=VERIFY_TIMEOUT_SECONDS + 1)
            await world.maintain()
        assert await world.app.store.push_subscriptions() == []
        lines = [
            r.getMessage()
            for r in caplog.records
            if r.name == "bot.pipeline.subscribe" and r.levelno >= logging.WARNING
        ]
        assert len(lines) == UNSUBSCRIBE_ATTEMPTS + 1
        assert "HTTP 502" in lines[0] and "forgotten (its lease lapses)" in lines[-1]
        # a push for the forgotten callback is refused
        [subscribe] = world.hub.requests_of("subscribe")
        path = "/websub/" + subscribe["hub.callback"].rsplit("/", 1)[1]
        assert (await post(world, path, b"<rss/>")).status_code == 404


async def test_a_push_for_a_removed_feed_is_answered_and_ignored(tmp_path: Path) -> None:
    async with websub_world(tmp_path) as world:
        await world.poll()
        await world.app.store.remove_feed(world.feed_url)
        body = world.feed_body(world.story("Iran after removal"))
        assert await world.hub.publish(world.feed_url, body) == [202]
        await world.deliver()
        assert world.alerts() == []
