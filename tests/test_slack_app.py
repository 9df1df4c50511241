"""The Slack front-end: the real slack-bolt app on our aiohttp server (HTTP mode)
or over a websocket (Socket Mode), the real pipeline and store on SQLite, a
loopback feed server, and a loopback Slack (tests.support.fake_slack) that
signs its requests like Slack and records what the app posts.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import pytest
import yaml

from bot.core.errors import ConfigError
from bot.core.model import Destination
from bot.core.settings import PACKAGED_CONFIG_DIR, Settings, load_settings
from bot.pipeline.poll import poll_once
from bot.platforms.slack.app import (
    BOT_EVENTS,
    BOT_SCOPES,
    EVENTS_PATH,
    SLASH_COMMAND,
    slack_config,
    start_slack,
)
from bot.service.app import App, build_app
from bot.service.http import HttpServer
from bot.service.platforms import frontend_deps
from bot.service.run import serve
from tests.support.fake_slack import FakeSlackApi, HookPost, SlackMessage
from tests.support.feed_server import FeedServer
from tests.support.slack_caller import SlackCaller
from tests.test_render import slack_unescape

ADMIN, MEMBER = "UADMIN1", "UMEMBER1"
NEWS, OTHER = "CNEWS", "COTHER"
DM = "DMEMBER1"
"""The member's DM with the bot."""
FEED = "/wire.xml"
BACKLOG = "Markets close higher on Friday"
DRONES = [
    "Drone strike hits fuel depot in Odesa",
    "Kamikaze drones attack power plant near Kharkiv overnight",
    "Navy intercepted a sea drone assault on a cargo ship",
]
HOSTILE = [
    "Drone strike <!channel> hits an army depot",
    "<@U123> says kamikaze drones attacked <https://evil.example|click here> overnight",
    "Drones attack gas & oil plant <!here> near the coast",
]
PINGS = ["<!channel>", "<!here>", "<@U123>", "<https://evil"]
FORM = "application/x-www-form-urlencoded"


@dataclass
class Clock:
    """Real time plus an offset the test moves on, so that feeds fall due."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def rss(*titles: str) -> bytes:
    """A feed with one item per title (stable guid and link per title). Titles are
    text: HTML-escaped inside the XML, as feeds carry them."""
    items = []
    for title in titles:
        slug = sha256(title.encode()).hexdigest()[:12]
        text = escape(html.escape(title, quote=False))
        items.append(
            f"<item><title>{text}</title><link>https://news.example/{slug}</link>"
            f"<guid>https://news.example/{slug}</guid><description>{text}."
            f"</description><pubDate>{format_datetime(datetime.now(UTC))}</pubDate></item>"
        )
    channel = f"<channel><title>Wire</title><link>https://news.example/</link>{''.join(items)}"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</channel></rss>'.encode()


def settings_for(tmp_path: Path, api: FakeSlackApi, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path}/slack.db",
        "feeds_file": None,
        "allow_private_networks": True,
        "poll_interval": 60,
        "semantic": "off",
        "slack_bot_token": api.token,
        "slack_signing_secret": api.signing_secret,
        "slack_api_base_url": api.base_url,
        "slack_admin_ids": ADMIN,
    }
    return load_settings(overrides={**overrides, **extra})


@dataclass
class World:
    """A running app with its Slack front-end, the fake Slack and the feed server."""

    app: App
    api: FakeSlackApi
    slack: SlackCaller
    feeds: FeedServer
    clock: Clock

    async def say(self, text: str, *, user: str = ADMIN, channel: str = NEWS) -> HookPost:
        """Type `/newswatch <text>`; returns what the app posted to the response_url."""
        return await say(self.slack, text, user=user, channel=channel)

    async def prime(self) -> None:
        """Add the feed and poll it once: its backlog never alerts."""
        await self.app.store.add_feed(self.feeds.url(FEED), "wire")
        await self.poll(BACKLOG)

    async def poll(self, *titles: str, deliver: bool = True) -> None:
        """Serve these stories, poll the due feeds once, and deliver what is due."""
        self.feeds.serve_bytes(FEED, rss(*titles))
        self.clock.offset += timedelta(hours=1)
        await poll_once(self.app.pipeline)
        if deliver:
            await self.app.deliverer.deliver_pending()

    def destination(self, chat: str) -> Destination:
        return Destination("slack", chat)


async def say(slack: SlackCaller, text: str, *, user: str, channel: str) -> HookPost:
    """`/newswatch <text>` through `slack`; the answer posted to its response_url."""
    before = len(slack.api.responses)
    assert await slack.slash(text, user=user, channel=channel) == 200
    await slack.api.wait_for(lambda: len(slack.api.responses) > before)
    return slack.api.responses[before]


@asynccontextmanager
async def slack_world(
    tmp_path: Path, settings: dict[str, Any] | None = None, **fake: Any
) -> AsyncIterator[World]:
    """The app in HTTP mode on a free port (with these settings), and the fakes it talks to."""
    clock = Clock()
    async with FakeSlackApi(**fake) as api, FeedServer() as feeds:
        app = await build_app(settings_for(tmp_path, api, **(settings or {})), clock=clock)
        try:
            http = HttpServer(app)
            stop = await start_slack(frontend_deps(app, http))
            await http.start("127.0.0.1", 0)
            slack = SlackCaller(api, f"http://127.0.0.1:{http.port}{EVENTS_PATH}")
            try:
                yield World(app, api, slack, feeds, clock)
            finally:
                await stop()
                await http.stop()
        finally:
            await app.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with slack_world(tmp_path) as running:
        yield running


def payload_of(message: SlackMessage) -> str:
    return json.dumps([message.text, message.blocks], ensure_ascii=False)


def section_text(message: SlackMessage) -> str:
    return str(message.blocks[0]["text"]["text"])


# ── the whole service ──────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
async def test_subscribe_in_a_channel_then_one_alert_per_matching_story(tmp_path: Path) -> None:
    port = free_port()
    async with FakeSlackApi() as api, FeedServer() as feeds:
        feeds.serve_bytes(FEED, rss(BACKLOG))
        settings = settings_for(tmp_path, api, http_port=port, poll_interval=0.3)
        stop = asyncio.Event()
        service = asyncio.create_task(serve(settings, stop=stop))
        slack = SlackCaller(api, f"http://127.0.0.1:{port}{EVENTS_PATH}")
        try:
            await api.wait_for(lambda: service.done() or _listening(port), within=15)
            assert not service.done(), "the service stopped at start-up"
            added = await say(slack, f"feed add {feeds.url(FEED)} wire", user=ADMIN, channel=NEWS)
            assert "added feed" in added.text
            subscribed = await say(slack, "subscribe drone_strike", user=ADMIN, channel=NEWS)
            assert subscribed.body["response_type"] == "in_channel"
            assert "subscribed to: drone_strike" in subscribed.text
            await api.wait_for(lambda: feeds.hits[FEED] >= 2, within=15)  # the first primed it
            feeds.serve_bytes(FEED, rss(BACKLOG, DRONES[0], "Council approves new bike lanes"))
            await api.wait_for(lambda: api.alerts(NEWS), within=15)
            polls = feeds.hits[FEED]
            await api.wait_for(lambda: feeds.hits[FEED] >= polls + 3, within=15)
            await asyncio.sleep(1.2)  # one more delivery tick
        finally:
            stop.set()
            await asyncio.wait_for(service, 30)
    [alert] = api.alerts(NEWS)
    assert DRONES[0] in section_text(alert)
    assert [m.channel for m in api.messages] == [NEWS]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# ── requests Slack did not sign ────────────────────────────────────────────


@pytest.mark.slow
async def test_forged_or_stale_requests_get_401_and_nothing_runs(world: World) -> None:
    body = world.slack.slash_body("subscribe drone_strike", user=ADMIN, channel=NEWS)
    now = int(time.time())
    forgeries: list[dict[str, Any]] = [
        {"secret": "not-the-signing-secret"},
        {"timestamp": now - 301},
        {"timestamp": now + 301},
        {"signature": "v0=" + "0" * 64},
        {"signature": "v0="},
        {"timestamp": "yesterday"},
    ]
    for forged in forgeries:
        status, _ = await world.slack.signed_post(body, FORM, **forged)
        assert status == 401, forged
    await asyncio.sleep(0.3)
    assert world.api.responses == []
    assert await world.app.store.subscriptions() == []

    challenge = {"token": "x", "challenge": "c-123", "type": "url_verification"}
    status, text = await world.slack.signed_post(json.dumps(challenge).encode(), "application/json")
    assert (status, json.loads(text)) == (200, {"challenge": "c-123"})
    status, _ = await world.slack.signed_post(body, FORM)  # the same request, signed
    assert status == 200
    await world.api.wait_for(lambda: world.api.responses)
    assert [s.rule for s in await world.app.store.subscriptions()] == ["drone_strike"]


# ── who may do what ────────────────────────────────────────────────────────


@pytest.mark.slow
async def test_only_admins_add_rules_and_an_admins_rule_alerts(world: World) -> None:
    await world.prime()
    rules = await world.app.store.list_rules()
    command = "rule add port_fire fire NEAR/5 port -- Fires in ports"
    refused = await world.say(command, user=MEMBER)
    assert refused.body["response_type"] == "ephemeral"
    assert "for the bot's admins only" in refused.text
    assert await world.app.store.list_rules() == rules
    assert world.app.rulebook.rule("port_fire") is None

    added = await world.say(command, user=ADMIN)
    assert "added rule port_fire" in added.text and added.body["response_type"] == "ephemeral"
    assert "```\nfire NEAR/5 port\n```" in added.text
    await world.say("subscribe port_fire", user=ADMIN, channel=OTHER)
    await world.poll(BACKLOG, "Huge fire rages in Antwerp port")
    [alert] = world.api.alerts(OTHER)
    assert "Antwerp" in section_text(alert) and world.api.alerts(NEWS) == []


# ── feed text is shown, never obeyed ───────────────────────────────────────


@pytest.mark.slow
async def test_hostile_feed_titles_show_literally_and_ping_nobody(world: World) -> None:
    await world.prime()
    await world.say("subscribe drone_strike")
    await world.poll(BACKLOG, *HOSTILE)
    alerts = world.api.alerts(NEWS)
    assert len(alerts) == len(HOSTILE) and world.api.invalid == []
    for message in alerts:
        assert not any(ping in payload_of(message) for ping in PINGS)
    shown = [slack_unescape(section_text(m)) for m in alerts]
    for title in HOSTILE:
        assert any(title in text for text in shown), title

    answer = await world.say("rule test drone_strike 7")  # the backtest lists the titles
    raw = json.dumps(answer.body, ensure_ascii=False)
    assert not any(ping in raw for ping in PINGS)
    assert "<!channel>" in slack_unescape(answer.text)


# ── mentions and DMs ───────────────────────────────────────────────────────


@pytest.mark.slow
async def test_mentions_and_dms_run_the_same_commands(world: World) -> None:
    api, slack = world.api, world.slack
    help_text = (await world.say("help", user=MEMBER)).text
    ts = await slack.mention("help", user=MEMBER, channel=NEWS)
    await api.wait_for(lambda: api.messages)
    [answer] = api.messages
    assert (answer.channel, answer.thread_ts, section_text(answer)) == (NEWS, ts, help_text)

    ts = await slack.mention("rule rm drone_strike", user=MEMBER, channel=NEWS)
    await api.wait_for(lambda: api.ephemerals)
    [refused] = api.ephemerals
    assert (refused.user, refused.thread_ts) == (MEMBER, ts)
    assert "for the bot's admins only" in section_text(refused)
    ts = await slack.mention("subscribe   drone_strike", user=MEMBER, channel=NEWS)
    await api.wait_for(lambda: len(api.messages) == 2)
    assert api.messages[-1].thread_ts == ts
    assert section_text(api.messages[-1]) == "subscribed to: drone_strike"

    await slack.dm("subscribe drone_strike", user=MEMBER, channel=DM)
    await api.wait_for(lambda: len(api.messages) == 3)
    dm_answer = api.messages[-1]
    assert (dm_answer.channel, dm_answer.thread_ts) == (DM, None)
    assert section_text(dm_answer) == "subscribed to: drone_strike"

    redelivered = slack.event_body(slack.dm_event("subscriptions", user=MEMBER, channel=DM))
    for _ in range(2):  # Slack retries an event whose ack was slow: answered once
        assert (await slack.signed_post(redelivered, "application/json"))[0] == 200
    ignored = [
        {**slack.dm_event("help", user=MEMBER, channel=DM), "subtype": "message_changed"},
        {**slack.dm_event("help", user="U0000BOT", channel=DM), "bot_id": "B0000BOT"},
        {**slack.dm_event("help", user=MEMBER, channel=NEWS), "channel_type": "channel"},
    ]
    for event in ignored:
        assert await slack.send_event(event) == 200
    await api.wait_for(lambda: len(api.messages) == 4)
    await asyncio.sleep(0.3)
    assert len(api.messages) == 4 and "subscribed to: drone_strike" in section_text(api.messages[3])

    subscribed = {str(s.destination) for s in await world.app.store.subscriptions()}
    assert subscribed == {f"slack:{NEWS}", f"slack:{DM}"}


@pytest.mark.slow
async def test_slash_command_in_a_dm_is_private_only_in_the_users_dm_with_the_bot(
    tmp_path: Path,
) -> None:
    async with slack_world(tmp_path, {"channel_subscribe": "admins"}) as world:
        world.api.ims[DM] = MEMBER
        mine = await world.say("subscribe drone_strike", user=MEMBER, channel=DM)
        assert "subscribed to: drone_strike" in mine.text
        theirs = await world.say("subscribe drone_strike", user=MEMBER, channel="DPEOPLE")
        assert "administrators" in theirs.text  # a DM between two people: not the member's own
        subscribed = {str(s.destination) for s in await world.app.store.subscriptions()}
        assert subscribed == {f"slack:{DM}"}


@pytest.mark.slow
async def test_an_answer_slack_refuses_is_logged_and_the_app_goes_on(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.api.outside_channels.add(OTHER)
    with caplog.at_level(logging.WARNING, logger="bot.platforms.slack.answers"):
        await world.slack.mention("help", user=MEMBER, channel=OTHER)
        await world.api.wait_for(lambda: caplog.records)
        await world.slack.dm("help", user=MEMBER, channel=DM)
        await world.api.wait_for(lambda: world.api.messages)
    [record] = caplog.records
    assert "not_in_channel" in record.getMessage()
    fields = (record.__dict__[k] for k in ("platform", "chat_id", "user_id"))
    assert tuple(fields) == ("slack", OTHER, MEMBER)
    assert world.api.messages[0].channel == DM


# ── buttons ────────────────────────────────────────────────────────────────


@pytest.fixture
async def admins_world(tmp_path: Path) -> AsyncIterator[World]:
    """A world whose channels only SLACK_ADMIN_IDS manage (NEWSWATCH_CHANNEL_SUBSCRIBE=admins)."""
    async with slack_world(tmp_path, {"channel_subscribe": "admins"}) as running:
        yield running


@pytest.mark.slow
async def test_alert_buttons_answer_in_place_and_take_effect(admins_world: World) -> None:
    world = admins_world
    api, slack, store = world.api, world.slack, world.app.store
    await world.prime()
    api.ims[DM] = MEMBER
    await world.say("subscribe drone_strike", user=ADMIN, channel=NEWS)
    await world.say("subscribe drone_strike", user=MEMBER, channel=DM)
    await world.poll(BACKLOG, DRONES[0])
    [news_alert], [dm_alert] = api.alerts(NEWS), api.alerts(DM)

    assert await slack.click(news_alert, "mute", user=MEMBER) == 200
    await api.wait_for(lambda: len(api.responses) == 3)
    assert api.responses[-1].body["response_type"] == "ephemeral"
    assert "administrators" in api.responses[-1].text and api.alerts(NEWS) == [news_alert]

    await slack.click(news_alert, "mute", user=ADMIN)
    await api.wait_for(lambda: api.updates)
    muted = api.updates[-1]
    assert muted.blocks[:2] == news_alert.blocks[:2] and muted.text == news_alert.text
    assert [b["type"] for b in muted.blocks] == ["section", "context", "context"]
    assert "muted drone_strike here until" in muted.blocks[-1]["elements"][0]["text"]
    assert "drone_strike" in await store.muted_rules(world.destination(NEWS), world.clock())

    await slack.click(dm_alert, "not_relevant", user=MEMBER)
    await api.wait_for(lambda: len(api.updates) == 2)
    assert "noted as “not relevant”" in json.dumps(api.updates[-1].blocks[-1], ensure_ascii=False)
    [feedback] = await store.feedback_for("drone_strike")
    assert feedback.actor == f"slack:{MEMBER} ({MEMBER.lower()})"

    await world.poll(BACKLOG, DRONES[0], DRONES[1])
    assert len(api.alerts(NEWS)) == 0 and len(api.alerts(DM)) == 1  # the channel is muted
    [dm_alert] = api.alerts(DM)
    await slack.click(dm_alert, "unsubscribe", user=MEMBER)
    await api.wait_for(lambda: len(api.updates) == 3)
    assert "unsubscribed this chat from drone_strike" in json.dumps(api.updates[-1].blocks)
    assert await store.subscriptions(world.destination(DM)) == []

    await world.poll(BACKLOG, *DRONES)
    assert len(api.messages) == 2 + 0 + 1  # nothing new: muted, and unsubscribed


# ── delivery trouble ───────────────────────────────────────────────────────


@pytest.mark.slow
async def test_a_missing_channel_pauses_only_its_subscription(world: World) -> None:
    await world.prime()
    for channel in (NEWS, "CGONE"):
        await world.say("subscribe drone_strike", channel=channel)
    world.api.missing_channels.add("CGONE")
    await world.poll(BACKLOG, DRONES[0])
    await world.poll(BACKLOG, DRONES[0], DRONES[1])
    assert len(world.api.alerts(NEWS)) == 2
    [gone] = await world.app.store.subscriptions(world.destination("CGONE"))
    [news] = await world.app.store.subscriptions(world.destination(NEWS))
    assert "channel_not_found" in (gone.paused_reason or "") and news.paused_reason is None
    status = await world.say("status")
    assert "paused: slack:CGONE" in status.text and status.body["response_type"] == "ephemeral"


@pytest.mark.slow
async def test_a_429_storm_still_delivers_everything_once_in_order(tmp_path: Path) -> None:
    async with slack_world(tmp_path, per_channel_interval=1.4, tolerance=0.0) as world:
        await world.prime()
        for channel in (NEWS, OTHER):
            await world.say("subscribe drone_strike", channel=channel)
        await world.poll(BACKLOG, *DRONES, deliver=False)
        deadline = time.monotonic() + 20
        while len(world.api.messages) < 6 and time.monotonic() < deadline:
            await world.app.deliverer.deliver_once()
            await asyncio.sleep(0.05)
    assert world.api.rate_limited > 0
    orders = [
        [t for m in world.api.alerts(c) for t in DRONES if t in section_text(m)]
        for c in (NEWS, OTHER)
    ]
    assert orders[0] == orders[1] and sorted(orders[0]) == sorted(DRONES)
    assert orders[0] == DRONES


# ── start-up and Socket Mode ───────────────────────────────────────────────


def test_manifest_matches_what_the_code_handles() -> None:
    manifest = yaml.safe_load((PACKAGED_CONFIG_DIR / "slack-manifest.yaml").read_text("utf-8"))
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == SLASH_COMMAND and command["should_escape"] is False
    settings = manifest["settings"]
    urls = {
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
    }
    assert urls == {f"https://YOUR-HOST{EVENTS_PATH}"}
    assert settings["event_subscriptions"]["bot_events"] == list(BOT_EVENTS)
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["features"]["bot_user"]["display_name"]


@pytest.mark.parametrize(
    ("extra", "mode", "says"),
    [
        ({}, "http", ""),
        ({"slack_signing_secret": None, "slack_app_token": "xapp-1-x"}, "socket", ""),
        ({"slack_signing_secret": None}, "", "SLACK_SIGNING_SECRET is not set"),
        ({"slack_signing_secret": " "}, "", "SLACK_SIGNING_SECRET is not set"),
        ({"slack_app_token": "xoxb-1"}, "", "SLACK_APP_TOKEN is not an app-level token"),
    ],
)
def test_settings_choose_the_mode(
    tmp_path: Path, extra: dict[str, Any], mode: str, says: str
) -> None:
    api = FakeSlackApi()
    api.base_url = "https://slack.com/api/"
    settings = settings_for(tmp_path, api, **extra)
    if says:
        with pytest.raises(ConfigError, match=says) as raised:
            slack_config(settings)
        assert "\n" not in str(raised.value)
        return
    assert slack_config(settings).socket_mode is (mode == "socket")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"slack_signing_secret": None}, "SLACK_SIGNING_SECRET is not set"),
        ({"slack_bot_token": "xoxb-wrong"}, r"Slack refused SLACK_BOT_TOKEN \(invalid_auth\)"),
        (
            {"slack_signing_secret": None, "slack_app_token": "xapp-wrong"},
            r"Slack refused SLACK_APP_TOKEN \(invalid_auth\)",
        ),
    ],
)
async def test_start_up_refuses_settings_that_cannot_work(
    tmp_path: Path, extra: dict[str, Any], says: str
) -> None:
    async with FakeSlackApi() as api:
        app = await build_app(settings_for(tmp_path, api, **extra))
        http = HttpServer(app)
        try:
            with pytest.raises(ConfigError, match=says):
                await start_slack(frontend_deps(app, http))
        finally:
            await app.close()
    assert "slack" not in app.notifiers
    assert EVENTS_PATH not in {r.resource.canonical for r in http.web.router.routes() if r.resource}


@pytest.mark.slow
async def test_socket_mode_connects_out_and_answers_on_our_base_url(tmp_path: Path) -> None:
    async with FakeSlackApi() as api:
        extra = {"slack_signing_secret": None, "slack_app_token": api.app_token}
        app = await build_app(settings_for(tmp_path, api, **extra))
        http = HttpServer(app)
        try:
            stop = await start_slack(frontend_deps(app, http))
            try:
                form = SlackCaller(api, "").slash_body("help", user=MEMBER, channel=NEWS)
                envelope = await api.socket_send("slash_commands", dict(parse_qsl(form.decode())))
                await api.wait_for(lambda: api.responses and api.socket_acks)
                assert envelope in [ack.get("envelope_id") for ack in api.socket_acks]
                assert "commands:" in api.responses[0].text
            finally:
                await stop()
        finally:
            await app.close()
    assert "slack" in app.notifiers
    assert EVENTS_PATH not in {r.resource.canonical for r in http.web.router.routes() if r.resource}
