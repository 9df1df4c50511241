"""SlackNotifier (real slack_sdk AsyncWebClient) against the loopback Web API stand-in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.core import metrics
from bot.core.errors import (
    ConfigError,
    DeliveryError,
    DestinationGoneError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
)
from bot.core.model import Destination, FollowUp
from bot.delivery.ratelimit import slack_limiter
from bot.platforms.render import clean_text
from bot.platforms.slack.notifier import SlackNotifier
from bot.platforms.slack.render import render_slack
from tests.support.fake_slack import FakeSlackApi
from tests.test_render import HOSTILE, make_alert, other_story, slack_unescape, with_sources


@pytest.fixture
async def api() -> AsyncIterator[FakeSlackApi]:
    async with FakeSlackApi() as fake:
        yield fake


@pytest.fixture
async def notifier(api: FakeSlackApi) -> AsyncIterator[SlackNotifier]:
    sender = SlackNotifier(api.token, base_url=api.base_url, limiter=slack_limiter())
    yield sender
    await sender.close()


def channel(name: str) -> Destination:
    return Destination("slack", name)


async def test_alert_arrives_as_blocks_without_unfurls(
    api: FakeSlackApi, notifier: SlackNotifier
) -> None:
    alert = make_alert()
    message_id = await notifier.send(channel("C1"), alert)
    [posted] = api.messages
    assert message_id == f"C1:{posted.ts}"
    assert (posted.text, posted.blocks) == render_slack(alert)
    assert (posted.unfurl_links, posted.unfurl_media) == (False, False)


async def test_hostile_feed_text_pings_nobody(api: FakeSlackApi, notifier: SlackNotifier) -> None:
    for n, text in enumerate(HOSTILE):
        await notifier.send(channel(f"C{n}"), make_alert(summary=text, publisher=text))
    assert api.invalid == []
    for n, text in enumerate(HOSTILE):
        [message] = [m for m in api.messages if m.channel == f"C{n}"]
        payload = json.dumps([message.text, message.blocks], ensure_ascii=False)
        for mention in (
            "<!channel>",
            "<!here>",
            "<!everyone>",
            "<@U123>",
            "<#C123",
            "<https://evil",
        ):
            assert mention not in payload
        section = message.blocks[0]["text"]["text"]
        assert slack_unescape(section).endswith(clean_text(text))


def rate_limited_count(platform: str) -> float:
    """newswatch_rate_limited_total for `platform` (one registry per process)."""
    found = metrics.REGISTRY.get_sample_value(
        "newswatch_rate_limited_total", {"platform": platform}
    )
    return found or 0.0


async def test_429_storm_delivers_everything_once_in_order() -> None:
    limited_before = rate_limited_count("slack")
    async with FakeSlackApi(per_channel_interval=2.0, tolerance=0.0) as api:
        sender = SlackNotifier(api.token, base_url=api.base_url, limiter=slack_limiter())

        async def deliver_in_order(name: str) -> None:
            for n in range(3):
                for _attempt in range(20):  # the delivery loop's job in production
                    try:
                        await sender.send(channel(name), make_alert(summary=f"story {n}"))
                        break
                    except RateLimitedError as error:
                        assert error.retry_after is not None and error.retry_after >= 1

        await asyncio.gather(deliver_in_order("CA"), deliver_in_order("CB"))
        await sender.close()
    assert api.rate_limited > 0
    assert rate_limited_count("slack") - limited_before == api.rate_limited
    for name in ("CA", "CB"):
        assert [t.rsplit("\n", 1)[1] for t in api.texts(name)] == ["story 0", "story 1", "story 2"]


@pytest.mark.parametrize(
    ("setup", "error", "says"),
    [
        ("missing", DestinationGoneError, "channel_not_found"),
        ("archived", DestinationGoneError, "is_archived"),
        ("outside", DestinationGoneError, "not_in_channel"),
        ("failing", RetryableDeliveryError, "Slack answered 500"),
        ("overloaded", RetryableDeliveryError, "Slack answered 503"),
    ],
)
async def test_delivery_errors_are_mapped(
    api: FakeSlackApi,
    notifier: SlackNotifier,
    setup: str,
    error: type[DeliveryError],
    says: str,
) -> None:
    if setup == "missing":
        api.missing_channels.add("CX")
    elif setup == "archived":
        api.archived_channels.add("CX")
    elif setup == "outside":
        api.outside_channels.add("CX")
    else:
        api.fail_next(1, status=500 if setup == "failing" else 503)
    with pytest.raises(error, match=says):
        await notifier.send(channel("CX"), make_alert())
    await notifier.send(channel("COK"), make_alert())
    assert [m.channel for m in api.messages] == ["COK"]


async def test_wrong_token_names_the_setting(api: FakeSlackApi) -> None:
    sender = SlackNotifier("xoxb-wrong", base_url=api.base_url, limiter=slack_limiter())
    with pytest.raises(PermanentDeliveryError, match=r"invalid_auth.*check SLACK_BOT_TOKEN"):
        await sender.send(channel("C1"), make_alert())
    await sender.close()


async def test_unreachable_api_is_retryable(api: FakeSlackApi) -> None:
    await api.close()
    sender = SlackNotifier(api.token, base_url=api.base_url, limiter=slack_limiter())
    with pytest.raises(RetryableDeliveryError, match="ClientConnectorError"):
        await sender.send(channel("C1"), make_alert())
    await sender.close()


async def test_update_adds_the_other_sources(api: FakeSlackApi, notifier: SlackNotifier) -> None:
    alert = make_alert()
    message_id = await notifier.send(channel("C1"), alert)
    later = with_sources(alert, [other_story("Wire", "https://wire.example/1")])
    await notifier.update(channel("C1"), message_id, FollowUp(later, later.sources))
    [edit] = api.updates
    assert (edit.channel, edit.ts) == ("C1", message_id.split(":")[1])
    assert (edit.text, edit.blocks) == render_slack(later)
    [reply] = [m for m in api.messages if m.thread_ts]  # the follow-up in the alert's thread
    assert reply.thread_ts == edit.ts and "Wire" in reply.blocks[0]["text"]["text"]


async def test_update_of_an_unknown_message(notifier: SlackNotifier) -> None:
    with pytest.raises(PermanentDeliveryError, match="message_not_found"):
        await notifier.update(channel("C1"), "C1:1700000000.000001", FollowUp(make_alert()))


async def test_stand_in_accepts_form_bodies_and_checks_blocks(api: FakeSlackApi) -> None:
    headers = {"Authorization": f"Bearer {api.token}"}
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    async with aiohttp.ClientSession(headers=headers) as http:
        form = {"channel": "C1", "text": "hi", "blocks": json.dumps(long_section)}
        async with http.post(f"{api.base_url}chat.postMessage", data=form) as response:
            assert await response.json() == {"ok": False, "error": "invalid_blocks"}
        async with http.post(f"{api.base_url}chat.postMessage", data={"channel": "C1"}) as response:
            assert await response.json() == {"ok": False, "error": "no_text"}
        async with http.post(f"{api.base_url}auth.test", data={}) as response:
            assert (await response.json())["user_id"] == "U0000BOT"
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{api.base_url}auth.test", json={}) as response,
    ):
        assert await response.json() == {"ok": False, "error": "not_authed"}


@pytest.mark.parametrize(
    ("token", "base_url", "says"),
    [
        (" ", "https://slack.com/api/", "SLACK_BOT_TOKEN is empty"),
        ("xoxb-1", "slack.com/api", "SLACK_API_BASE_URL 'slack.com/api' is not an http"),
    ],
)
def test_bad_settings_say_how_to_fix(token: str, base_url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        SlackNotifier(token, base_url=base_url, limiter=slack_limiter())
