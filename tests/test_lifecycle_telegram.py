"""End to end, Telegram: the alert lifecycle through the real service.

`build_app` on SQLite, the real HTTP server and `start_platforms` (the real
python-telegram-bot front-end, long polling the loopback Bot API stand-in),
feeds from several loopback outlets, and the pipeline driven as the
scheduler drives it: `poll_once`, the delivery loop, and `release_due` for
held alerts. The clock is real time plus an offset the tests move to end
mutes, quiet hours and digest periods. Users type commands and press buttons
in the stand-in, which parses our HTML as Telegram does.

- follow-ups: later outlets edit the alert in place (links, outlet count),
  keeping its buttons, or the answer of the button that replaced them;
  the third outlet makes it urgent; never a second alert;
- `mute 2h` holds alerts for one digest at its end; `mute 1h discard` drops them;
- quiet hours hold alerts for one digest at their end; urgent alerts (an urgent
  rule, or three outlets at once) come through;
- hourly and daily digest subscriptions, each story once and in order, split
  within Telegram's limit;
- a long reply (60 feeds) split into messages, never cut.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.release import release_due
from bot.pipeline.poll import poll_once
from bot.platforms.telegram.render import TELEGRAM_TEXT_LIMIT
from bot.service.app import App, build_app
from bot.service.http import HttpServer
from bot.service.platforms import RunningPlatforms, start_platforms
from tests.support.fake_telegram import FakeTelegramApi, PostedMessage, parse_telegram_html
from tests.support.feed_server import FeedServer
from tests.support.newsdesk import SAME_EVENT, Newsdesk, aid_story, drone_story, make_due
from tests.test_telegram_bot import ADMIN, ShiftedClock, buttons, say, settings_for, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]
OUTLETS = ("wire", "agency", "desk")
KYIV = ZoneInfo("Europe/Kyiv")


@dataclass
class World:
    """The running service, its stand-ins and the user's-eye helpers."""

    api: FakeTelegramApi
    app: App
    http: HttpServer
    platforms: RunningPlatforms
    desk: Newsdesk
    clock: ShiftedClock

    async def say(self, chat: int, text: str, user_id: int | None = None) -> str:
        return await say(self.api, chat, text, user_id)

    async def publish(self, outlet: str, story: tuple[str, str]) -> str:
        """One story in one outlet's feed, then a poll (every feed due)."""
        link = self.desk.publish(outlet, *story, when=self.clock())
        await make_due(self.app.store, self.clock())
        await poll_once(self.app.pipeline)
        return link

    async def deliver(self, passes: int = 3) -> None:
        for _ in range(passes):
            await self.app.deliverer.deliver_once()

    async def deliver_until(self, check: Callable[[], object], what: str) -> None:
        async def delivered() -> object:
            await self.app.deliverer.deliver_once()
            return check()

        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while not await delivered():
            if datetime.now(UTC) > deadline:
                raise AssertionError(f"timed out delivering {what}")

    async def later(self, **delta: float) -> None:
        """Move the clock on, then run the release job as the scheduler would."""
        self.clock.offset += timedelta(**delta)
        await release_due(self.app.store, self.clock())

    def sent(self, chat: int) -> list[PostedMessage]:
        """Every message the bot sent to the chat (sendMessage), in order."""
        return [m for m in self.api.messages if m.chat_id == chat]

    def alerts(self, chat: int) -> list[PostedMessage]:
        return [m for m in self.sent(chat) if m.reply_markup]

    def digests(self, chat: int) -> list[str]:
        return [shown(m) for m in self.sent(chat) if shown(m).startswith("newswatch digest")]

    def current(self, chat: int, message_id: int) -> PostedMessage:
        """The message as the chat sees it now (after any edits)."""
        edits = [e for e in self.api.edits if (e.chat_id, e.message_id) == (chat, message_id)]
        [original] = [m for m in self.api.messages if m.message_id == message_id]
        return edits[-1] if edits else original


def shown(message: PostedMessage) -> str:
    return parse_telegram_html(message.text)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeTelegramApi() as api, FeedServer() as server:
        settings = settings_for(tmp_path, api)
        clock = ShiftedClock()
        app = await build_app(settings, clock=clock)
        http = HttpServer(app)
        platforms = await start_platforms(app, http)
        await http.start(settings.http_host, settings.http_port)
        desk = Newsdesk(server)
        await desk.add_feeds(app.store, *OUTLETS)
        await poll_once(app.pipeline)  # primes the feeds
        try:
            yield World(api, app, http, platforms, desk, clock)
        finally:
            await platforms.stop()
            await http.stop()
            await app.close()


# ── follow-ups and urgency ─────────────────────────────────────────────────


async def test_later_outlets_update_the_alert_in_place_and_never_alert_again(
    world: World,
) -> None:
    chat = 7001
    await world.say(chat, "/subscribe drone_strike")
    await world.publish("wire", SAME_EVENT["wire"])
    await world.deliver_until(lambda: world.alerts(chat), "the alert")
    [alert] = world.alerts(chat)
    keyboard = alert.reply_markup

    agency = await world.publish("agency", SAME_EVENT["agency"])
    await world.deliver_until(lambda: world.api.edits, "the first follow-up")
    first = world.current(chat, alert.message_id)
    assert "Also reported by: agency (2 outlets)" in shown(first)
    assert f'<a href="{agency}">agency</a>' in first.text
    assert first.reply_markup == keyboard  # the buttons stay as they were
    assert "URGENT" not in shown(first)

    mute = buttons(alert)[0][1]
    world.api.push_update(world.api.click_update(chat, alert.message_id, chat, mute))
    await wait_for(
        lambda: world.current(chat, alert.message_id).reply_markup is None, "the button's answer"
    )
    answer = shown(world.current(chat, alert.message_id)).splitlines()[-1]
    assert "muted drone_strike" in answer

    await world.publish("desk", SAME_EVENT["desk"])  # the third outlet within minutes
    await world.deliver(2)
    assert "3 outlets" not in shown(world.current(chat, alert.message_id))  # the edit gap
    world.clock.offset += timedelta(seconds=61)
    await world.deliver_until(
        lambda: "3 outlets" in shown(world.current(chat, alert.message_id)), "the second follow-up"
    )
    now = world.current(chat, alert.message_id)
    text = shown(now)
    assert text.startswith("🔴 URGENT · 3 outlets\nDrone strike hits fuel depot in Odesa")
    assert "Also reported by: agency, desk (3 outlets)" in text
    assert text.splitlines()[-1] == answer  # the answer stays; the buttons do not come back
    assert now.reply_markup is None
    assert len(world.alerts(chat)) == 1 and len(world.sent(chat)) == 2  # reply + the one alert
    assert world.api.rejected == []


# ── mutes ──────────────────────────────────────────────────────────────────


async def test_a_mute_holds_alerts_for_one_digest_when_it_ends(world: World) -> None:
    chat = 7002
    await world.say(chat, "/subscribe aid_package drone_strike")
    reply = await world.say(chat, "/mute 2h")
    assert "muted for 2h" in reply and "one digest" in reply
    links = [await world.publish("wire", aid_story(n)) for n in range(2)]
    links.append(await world.publish("agency", drone_story(0)))
    await world.deliver()
    assert world.alerts(chat) == [] and len(world.sent(chat)) == 2
    assert "3 alerts held by a mute" in await world.say(chat, "/subscriptions")

    await world.later(hours=1)
    await world.deliver()
    assert world.digests(chat) == []
    await world.later(hours=1, minutes=1)
    await world.deliver_until(lambda: world.digests(chat), "the digest")
    [digest] = world.digests(chat)
    assert digest.startswith("newswatch digest: 3 stories held while this chat was muted")
    titles = [aid_story(0)[0], aid_story(1)[0], drone_story(0)[0]]
    positions = [digest.index(title) for title in titles]
    assert positions == sorted(positions) and all(digest.count(t) == 1 for t in titles)
    [message] = [m for m in world.sent(chat) if shown(m).startswith("newswatch digest")]
    assert all(f'href="{link}"' in message.text for link in links)
    await world.later(hours=1)
    await world.deliver()
    assert len(world.digests(chat)) == 1  # each alert in exactly one digest


async def test_mute_discard_drops_alerts_on_purpose(world: World) -> None:
    chat = 7003
    await world.say(chat, "/subscribe aid_package")
    assert "dropped" in await world.say(chat, "/mute 1h discard")
    await world.publish("wire", aid_story(5))
    await world.later(hours=1, minutes=1)
    await world.deliver()
    assert world.alerts(chat) == [] and world.digests(chat) == []
    await world.publish("wire", aid_story(6))  # the mute is over: alerts come again
    await world.deliver_until(lambda: world.alerts(chat), "the next alert")
    assert shown(world.alerts(chat)[0]).startswith(aid_story(6)[0])
    assert "is not a duration" in await world.say(chat, "/mute soon discard")


# ── quiet hours and urgency ────────────────────────────────────────────────


def quiet_window(now: datetime, before: timedelta, after: timedelta) -> str:
    """`HH:MM-HH:MM Europe/Kyiv` around `now`."""
    local = now.astimezone(KYIV)
    return f"{(local - before):%H:%M}-{(local + after):%H:%M} Europe/Kyiv"


async def test_quiet_hours_hold_alerts_and_urgent_ones_come_through(world: World) -> None:
    chat = 7004
    await world.say(chat, "/subscribe all")
    wrong_time = await world.say(chat, "/quiet 25:00-07:00 Europe/Kyiv")
    assert wrong_time.startswith("'25:00' is not a time of day") and "usage: quiet" in wrong_time
    assert "there is no time zone 'Mars/Base'" in await world.say(
        chat, "/quiet 22:00-07:00 Mars/Base"
    )
    window = quiet_window(world.clock(), timedelta(hours=1), timedelta(hours=1, minutes=30))
    assert "quiet hours set" in await world.say(chat, f"/quiet {window}")
    assert await world.say(ADMIN, "/rule urgent drone_strike on")

    await world.publish("wire", aid_story(1))
    await world.publish("wire", drone_story(1))  # an urgent rule: at once
    await world.deliver_until(lambda: world.alerts(chat), "the urgent alert")
    [urgent] = world.alerts(chat)
    assert shown(urgent).startswith(f"🔴 URGENT\n{drone_story(1)[0]}")

    for outlet in OUTLETS:  # three outlets within minutes: the held alert becomes urgent
        await world.publish(outlet, aid_story(2) if outlet == "wire" else _reworded(aid_story(2)))
    await world.deliver_until(lambda: len(world.alerts(chat)) == 2, "the cluster's urgent alert")
    clustered = shown(world.alerts(chat)[1])
    assert clustered.startswith(f"🔴 URGENT · 3 outlets\n{aid_story(2)[0]}")
    assert world.digests(chat) == []

    await world.later(hours=1)
    await world.deliver()
    assert world.digests(chat) == []  # still quiet
    await world.later(minutes=31)
    await world.deliver_until(lambda: world.digests(chat), "the quiet-hours digest")
    [digest] = world.digests(chat)
    assert digest.startswith("newswatch digest: 1 story held during quiet hours")
    assert aid_story(1)[0] in digest and aid_story(2)[0] not in digest


def _reworded(story: tuple[str, str]) -> tuple[str, str]:
    """Another outlet's words for the same story."""
    title, summary = story
    return f"{title}, officials say", summary.replace("officials in", "government officials in")


async def test_quiet_off_releases_what_waited(world: World) -> None:
    chat = 7005
    await world.say(chat, "/subscribe aid_package")
    window = quiet_window(world.clock(), timedelta(minutes=30), timedelta(hours=2))
    await world.say(chat, f"/quiet {window}")
    await world.publish("wire", aid_story(3))
    await world.deliver()
    assert world.alerts(chat) == []
    assert "what waited comes now" in await world.say(chat, "/quiet off")
    await world.later(seconds=1)
    await world.deliver_until(lambda: world.digests(chat), "the digest")
    assert aid_story(3)[0] in world.digests(chat)[0]


# ── digest subscriptions ───────────────────────────────────────────────────


async def test_hourly_and_daily_digest_subscriptions(world: World) -> None:
    chat = 7006
    bad_time = await world.say(chat, "/subscribe aid_package daily 25:00")
    assert bad_time.startswith("'25:00' is not a time of day")
    assert "no rule named nope" in await world.say(chat, "/subscribe nope hourly")
    reply = await world.say(chat, "/subscribe aid_package hourly")
    assert reply == "subscribed to: aid_package (an hourly digest)"
    at = (world.clock().astimezone(KYIV) + timedelta(hours=3)).strftime("%H:%M")
    reply = await world.say(chat, f"/subscribe drone_strike daily {at} Europe/Kyiv")
    assert reply == f"subscribed to: drone_strike (a daily digest at {at} Europe/Kyiv)"

    for n in range(3):
        await world.publish("wire", aid_story(10 + n))
    await world.publish("agency", drone_story(4))
    await world.deliver()
    assert world.alerts(chat) == []
    listing = await world.say(chat, "/subscriptions")
    assert "subscribed to aid_package as an hourly digest" in listing
    assert "4 alerts waiting for a digest" in listing

    now = world.clock()
    top = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    await world.later(seconds=(top - now).total_seconds() + 60)
    await world.deliver_until(lambda: world.digests(chat), "the hourly digest")
    [hourly] = world.digests(chat)
    assert hourly.startswith("newswatch digest: 3 stories from digest subscriptions")
    titles = [aid_story(10 + n)[0] for n in range(3)]
    assert [hourly.index(t) for t in titles] == sorted(hourly.index(t) for t in titles)
    assert drone_story(4)[0] not in hourly

    await world.later(hours=3)
    await world.deliver_until(lambda: len(world.digests(chat)) == 2, "the daily digest")
    daily = world.digests(chat)[1]
    assert daily.startswith("newswatch digest: 1 story") and drone_story(4)[0] in daily


async def test_a_long_digest_is_split_within_the_limit_each_story_once(world: World) -> None:
    chat = 7007
    await world.say(chat, "/subscribe aid_package hourly")
    for n in range(45):
        world.desk.publish("wire", *aid_story(100 + n), when=world.clock())
    await make_due(world.app.store, world.clock())
    await poll_once(world.app.pipeline)
    await world.later(hours=1, minutes=1)
    heading = re.compile(
        r"newswatch digest: 45 stories from digest subscriptions \(part (\d+) of (\d+)\)"
    )

    def parts() -> list[tuple[int, int]]:
        found = (heading.match(shown(m)) for m in world.sent(chat))
        return [(int(m[1]), int(m[2])) for m in found if m]

    await world.deliver_until(lambda: parts() and parts()[-1][0] == parts()[-1][1], "every part")
    count = parts()[0][1]
    assert count > 1 and parts() == [(n, count) for n in range(1, count + 1)]
    messages = [m for m in world.sent(chat) if heading.match(shown(m))]
    assert world.api.rejected == []
    assert all(len(m.text.encode("utf-16-le")) // 2 <= TELEGRAM_TEXT_LIMIT for m in messages)
    text = "\n".join(shown(m) for m in messages)
    for n in range(45):
        assert text.count(aid_story(100 + n)[0]) == 1
    numbers = [int(m[1]) for m in (re.match(r"(\d+)\. ", line) for line in text.splitlines()) if m]
    assert numbers == list(range(1, 46))


# ── long replies ───────────────────────────────────────────────────────────


async def test_a_long_reply_is_split_never_cut(world: World) -> None:
    for n in range(60):
        await world.app.store.add_feed(f"https://feeds{n}.example/news/rss.xml", f"Outlet {n:02d}")
    before = len(world.sent(ADMIN))
    await world.say(ADMIN, "/feeds")
    await wait_for(
        lambda: any("Outlet 59" in shown(m) for m in world.sent(ADMIN)[before:]), "the last part"
    )
    replies = world.sent(ADMIN)[before:]
    assert len(replies) > 1
    text = "\n".join(shown(m) for m in replies)
    assert all(f"Outlet {n:02d}" in text for n in range(60)) and "…" not in text
    assert all(len(m.text.encode("utf-16-le")) // 2 <= TELEGRAM_TEXT_LIMIT for m in replies)
    assert world.api.rejected == []
