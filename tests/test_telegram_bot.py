"""End to end: the real Telegram front-end against the loopback Bot API stand-in.

Each test runs the service's own parts: `build_app` on SQLite in tmp_path,
the real HTTP server, `start_platforms` (so `start_telegram` with real
python-telegram-bot long polling or webhook), and the real pipeline and
delivery loop driven with `poll_once` / `deliver_once` (as the scheduler
would) against a loopback feed server. Users act by pushing updates to the
stand-in, which parses our HTML like Telegram; we read what they would see.
One test runs `bot.service.serve` itself, scheduler included.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import pytest

from bot.core.errors import ConfigError, PermanentDeliveryError, StoreError
from bot.core.model import Destination
from bot.core.settings import Settings, load_settings
from bot.pipeline.poll import poll_once
from bot.platforms.frontend import Stopper
from bot.platforms.render import clean_text
from bot.platforms.telegram.app import SECRET_HEADER, WEBHOOK_PATH, start_telegram
from bot.platforms.telegram.poll import POLL_LEASE, PollLease
from bot.platforms.telegram.render import parse_telegram_callback
from bot.service.app import App, build_app
from bot.service.http import HttpServer
from bot.service.platforms import RunningPlatforms, frontend_deps, start_platforms
from bot.store import open_store
from tests.support.fake_telegram import FakeTelegramApi, PostedMessage, parse_telegram_html
from tests.support.feed_server import FeedServer
from tests.support.waiting import ShiftedClock
from tests.test_render import make_alert

# RetryAfter's own constructor reads its deprecated int `retry_after` (python-telegram-bot 22).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

ADMIN = 900
BOT_USERNAME = "newswatch_test_bot"
T = TypeVar("T")


async def wait_for(
    check: Callable[[], T | None], what: str, *, within: float = 10.0, step: float = 0.02
) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `within` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


@dataclass
class Newsroom:
    """One loopback feed whose items the test publishes."""

    server: FeedServer
    items: list[tuple[str, str, datetime]] = field(default_factory=list)

    def serve(self) -> None:
        body = "".join(
            f"<item><title>{escape(escape(title))}</title><link>{link}</link>"
            f"<guid>{link}</guid><pubDate>{format_datetime(when)}</pubDate></item>"
            for title, link, when in reversed(self.items)
        )
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>{body}'
        self.server.serve_bytes("/wire.xml", f"{feed}</channel></rss>".encode())

    def add(self, title: str, when: datetime) -> None:
        self.items.append((title, f"https://wire.example/story/{len(self.items)}", when))
        self.serve()


@dataclass
class Service:
    """The running pieces and the user's-eye helpers."""

    api: FakeTelegramApi
    app: App
    http: HttpServer
    platforms: RunningPlatforms
    newsroom: Newsroom
    clock: ShiftedClock

    async def say(self, chat_id: int, text: str, user_id: int | None = None, **kw: Any) -> str:
        """`say` in this service's stand-in."""
        return await say(self.api, chat_id, text, user_id, **kw)

    async def publish(self, *titles: str) -> None:
        """New stories in the feed, then one poll once the feed is due again."""
        self.clock.offset += timedelta(hours=7)
        for n, title in enumerate(titles):
            self.newsroom.add(title, self.clock() - timedelta(seconds=len(titles) - n))
        await poll_once(self.app.pipeline)

    async def deliver_until(
        self, check: Callable[[], object], what: str, within: float = 15
    ) -> None:
        """Run delivery passes (as the scheduler does) until `check()` holds."""
        deadline = asyncio.get_running_loop().time() + within
        while not check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out delivering {what}")
            await self.app.deliverer.deliver_once()
            await asyncio.sleep(0.05)

    def alerts(self, chat_id: int) -> list[PostedMessage]:
        """The alerts posted to a chat (messages with buttons)."""
        return [m for m in self.api.messages if m.chat_id == chat_id and m.reply_markup]

    async def subscriptions(self, chat_id: int) -> dict[str, str | None]:
        """rule → paused reason, for one chat."""
        subs = await self.app.store.subscriptions(Destination("telegram", str(chat_id)))
        return {sub.rule: sub.paused_reason for sub in subs}


async def say(
    api: FakeTelegramApi, chat_id: int, text: str, user_id: int | None = None, **kw: Any
) -> str:
    """Send a message as a user (in a private chat, the chat's own user) and return the
    bot's reply to it as the user sees it."""
    sender = user_id if user_id is not None or chat_id < 0 else chat_id
    update = api.message_update(chat_id, text, user_id=sender, **kw)
    message_id = next(iter(update.values()))["message_id"]
    before = len(api.messages)
    api.push_update(update)

    def reply() -> PostedMessage | None:
        for posted in api.messages[before:]:
            private = chat_id > 0 and not posted.reply_markup
            if posted.chat_id == chat_id and (posted.reply_to == message_id or private):
                return posted
        return None

    return parse_telegram_html((await wait_for(reply, f"a reply in chat {chat_id}")).text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(tmp_path: Path, api: FakeTelegramApi, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path}/telegram.db",
        "allow_private_networks": True,
        "poll_interval": 60,
        "feeds_file": None,
        "semantic": "off",
        "telegram_bot_token": api.token,
        "telegram_api_base_url": api.base_url,
        "telegram_admin_ids": str(ADMIN),
        "http_host": "127.0.0.1",
        "http_port": free_port(),
    }
    return load_settings(overrides={**values, **overrides})


async def start_service(
    tmp_path: Path, api: FakeTelegramApi, server: FeedServer, **overrides: Any
) -> Service:
    """What `serve` starts, minus the scheduler: app, platforms, HTTP server; one primed feed."""
    settings = settings_for(tmp_path, api, **overrides)
    clock = ShiftedClock()
    app = await build_app(settings, clock=clock)
    http = HttpServer(app)
    platforms = await start_platforms(app, http)
    await http.start(settings.http_host, settings.http_port)
    newsroom = Newsroom(server)
    newsroom.add("Markets open higher on Monday", clock() - timedelta(hours=1))
    await app.store.add_feed(server.url("/wire.xml"), "wire")
    await poll_once(app.pipeline)  # primes the feed: its backlog does not alert
    return Service(api, app, http, platforms, newsroom, clock)


async def stop_service(service: Service) -> None:
    await service.platforms.stop()
    await service.http.stop()
    await service.app.close()


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramApi]:
    async with FakeTelegramApi() as fake:
        yield fake


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


@pytest.fixture
async def service(
    tmp_path: Path, api: FakeTelegramApi, feeds: FeedServer
) -> AsyncIterator[Service]:
    running = await start_service(tmp_path, api, feeds)
    try:
        yield running
    finally:
        await stop_service(running)


def shown(message: PostedMessage) -> str:
    return parse_telegram_html(message.text)


def buttons(message: PostedMessage) -> list[tuple[str, str]]:
    rows = message.reply_markup["inline_keyboard"] if message.reply_markup else []
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


# ── commands and alerts ────────────────────────────────────────────────────


@pytest.mark.slow
async def test_subscribe_in_a_private_chat_then_exactly_one_alert(service: Service) -> None:
    reply = await service.say(501, "/subscribe drone_strike")
    assert "drone_strike" in reply
    assert await service.subscriptions(501) == {"drone_strike": None}
    assert "drone_strike" in await service.say(501, "subscriptions")  # no slash: still a command

    await service.publish("Drone strike hits fuel depot", "Football club wins the cup")
    await service.deliver_until(lambda: service.alerts(501), "the drone alert")
    await service.publish()  # nothing new: a later poll must not alert again
    for _ in range(3):
        await service.app.deliverer.deliver_once()
    [alert] = service.alerts(501)
    assert (alert.parse_mode, alert.link_preview_options) == ("HTML", {"is_disabled": True})
    assert shown(alert).startswith("Drone strike hits fuel depot\nwire")
    labels = [label for label, _ in buttons(alert)]
    assert labels == ["Mute rule 24 h", "Unsubscribe", "Not relevant", "More like this"]
    assert [parse_telegram_callback(data).rule_ref for _, data in buttons(alert)] == [
        "drone_strike"
    ] * 4
    assert service.api.rejected == []


@pytest.mark.slow
async def test_command_menu_polling_and_addressing(service: Service) -> None:
    api = service.api
    everyone = [c["command"] for c in api.commands_by_scope["default"]]
    admins = [c["command"] for c in api.commands_by_scope[f"chat:{ADMIN}"]]
    assert {"help", "subscribe", "unsubscribe", "subscriptions", "mute", "rules"} <= set(everyone)
    assert "rule" not in everyone and {"rule", "feed", "feeds"} <= set(admins)
    assert all(c["description"] for c in api.commands_by_scope[f"chat:{ADMIN}"])
    allowed = api.get_updates_calls[-1].get("allowed_updates")
    assert {"message", "channel_post", "callback_query", "my_chat_member"} <= set(allowed or [])

    assert "commands:" in await service.say(502, "/start")
    assert "commands:" in await service.say(-1002, f"/help@{BOT_USERNAME}", user_id=7)
    for text in ("/help@some_other_bot", "hello everyone", "subscribe drone_strike"):
        api.push_message(-1002, text, user_id=7)  # not for us in a group: no answer
    marker = await service.say(-1002, "/rules", user_id=7)
    assert "drone_strike" in marker
    assert len([m for m in api.messages if m.chat_id == -1002]) == 2


@pytest.mark.slow
async def test_long_reply_is_escaped_and_split_never_cut(service: Service) -> None:
    hostile = "<b>" + "&<x> " * 1500
    before = len([m for m in service.api.messages if m.chat_id == 503])
    reply = await service.say(503, f"help {hostile}")
    assert reply.startswith("no command '<b>&<x>")

    def parts() -> list[PostedMessage]:
        return [m for m in service.api.messages if m.chat_id == 503][before:]

    await wait_for(lambda: "shows an example" in shown(parts()[-1]), "the last part")
    assert len(parts()) > 1 and service.api.rejected == []
    assert all(len(m.text.encode("utf-16-le")) // 2 <= 4096 for m in parts())
    text = " ".join(shown(m) for m in parts())
    assert text.count("&<x>") == 1500  # every bit of it, escaped and shown


@pytest.mark.slow
async def test_api_errors_are_logged_and_the_bot_carries_on(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    service.api.fail_next(1, status=500, method="sendMessage")
    service.api.push_message(504, "/rules", user_id=504)
    await wait_for(
        lambda: [r for r in caplog.records if getattr(r, "update_id", None)], "the logged error"
    )
    [record] = [r for r in caplog.records if getattr(r, "update_id", None)]
    assert (record.levelname, getattr(record, "chat_id", None)) == ("WARNING", 504)
    assert getattr(record, "error", "") == "NetworkError"
    assert "drone_strike" in await service.say(504, "/rules")


@pytest.mark.slow
async def test_non_admin_rule_add_is_refused_and_changes_nothing(service: Service) -> None:
    rules_before = [rule.name for rule in service.app.rulebook.rules]
    reply = await service.say(601, "/rule add sneaky drone")
    assert "admins only" in reply and "nothing was changed" in reply
    assert await service.app.store.list_rules() == []
    assert [rule.name for rule in service.app.rulebook.rules] == rules_before


@pytest.mark.slow
async def test_admin_adds_a_rule_and_its_subscriber_gets_the_story(service: Service) -> None:
    reply = await service.say(ADMIN, "/rule add volcano volcano* NEAR/3 erupt*")
    assert "volcano" in reply
    assert "volcano" in [rule.name for rule in await service.app.store.list_rules()]
    assert "volcano" in await service.say(602, "/subscribe volcano")

    await service.publish("Markets slide again", "Volcano erupts on a remote island")
    await service.deliver_until(lambda: service.alerts(602), "the volcano alert")
    [alert] = service.alerts(602)
    assert shown(alert).startswith("Volcano erupts on a remote island")
    assert "Matched volcano" in shown(alert)


@pytest.mark.slow
async def test_feed_markup_shows_literally(service: Service) -> None:
    title = 'Drone strike: <b>bold</b> & <!channel> <@U123> &amp; <a href="x">y</a>'
    await service.say(603, "/subscribe all")
    await service.publish(title)
    await service.deliver_until(lambda: service.alerts(603), "the hostile alert")
    [alert] = service.alerts(603)
    assert service.api.rejected == []
    assert shown(alert).splitlines()[0] == clean_text(title)
    assert "<b>bold</b>" not in alert.text and "&lt;b&gt;bold&lt;/b&gt;" in alert.text


# ── delivery trouble ───────────────────────────────────────────────────────


@pytest.mark.slow
async def test_429_storm_delivers_everything_in_order_per_chat(
    tmp_path: Path, feeds: FeedServer
) -> None:
    chats = [701, 702, 703]
    async with FakeTelegramApi(global_per_second=2) as api:
        service = await start_service(tmp_path, api, feeds)
        try:
            for chat in chats:
                await service.say(chat, "/subscribe drone_strike")
            titles = [f"Drone strike number {n} hits a depot" for n in range(3)]
            await service.publish(*titles)
            await service.deliver_until(
                lambda: all(len(service.alerts(c)) == 3 for c in chats), "9 alerts", within=30
            )
        finally:
            await stop_service(service)
    assert api.rate_limited > 0
    for chat in chats:
        assert [shown(m).splitlines()[0] for m in service.alerts(chat)] == titles
    assert len(api.messages) == 3 + 9


@pytest.mark.slow
async def test_blocked_chat_is_paused_others_still_served_and_unblocking_resumes(
    service: Service,
) -> None:
    api = service.api
    for chat in (711, 712):
        await service.say(chat, "/subscribe drone_strike")
    api.blocked_chats.add(711)
    await service.publish("Drone strike hits a bridge")
    await service.deliver_until(lambda: service.alerts(712), "the alert to the open chat")
    assert "blocked" in ((await service.subscriptions(711))["drone_strike"] or "")
    assert await service.subscriptions(712) == {"drone_strike": None}
    assert service.alerts(711) == []

    api.blocked_chats.discard(711)
    api.push_update(api.member_update(711, "kicked", "member", user_id=711))
    await wait_async(lambda: service.subscriptions(711), lambda s: s["drone_strike"] is None)
    await service.deliver_until(lambda: service.alerts(711), "the held alert after unblocking")


async def wait_async(
    fetch: Callable[[], Any], check: Callable[[Any], object], within: float = 10
) -> Any:
    """Await `fetch()` until `check` holds on its result; return that result."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await fetch()
        if check(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out; last value {value!r}")
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_migrated_group_gets_its_alerts_at_the_new_id(service: Service) -> None:
    api = service.api
    assert "drone_strike" in await service.say(-4001, "/subscribe drone_strike", user_id=ADMIN)
    api.migrated[-4001] = -1004001
    await service.publish("Drone strike hits an airfield")
    await service.deliver_until(lambda: service.alerts(-1004001), "the alert at the new id")
    assert await service.subscriptions(-4001) == {}
    assert await service.subscriptions(-1004001) == {"drone_strike": None}

    # The service message Telegram sends in the old group moves subscriptions at once.
    assert "aid_package" in await service.say(-4002, "/subscribe aid_package", user_id=ADMIN)
    api.push_message(-4002, None, migrate_to_chat_id=-1004002, user_id=ADMIN)
    await wait_async(lambda: service.subscriptions(-1004002), lambda s: "aid_package" in s)
    assert await service.subscriptions(-4002) == {}


# ── groups, channels and admins ────────────────────────────────────────────


@pytest.mark.slow
async def test_group_members_are_refused_chat_admins_allowed(service: Service) -> None:
    api, group = service.api, -1008001
    api.admins[group] = {801}
    api.owners[group] = {803}
    refused = await service.say(group, f"/subscribe@{BOT_USERNAME} drone_strike", user_id=802)
    assert "administrators" in refused and "nothing was changed" in refused
    assert await service.subscriptions(group) == {}

    assert "drone_strike" in await service.say(group, "/subscribe drone_strike", user_id=801)
    assert "aid_package" in await service.say(group, "/subscribe aid_package", user_id=803)
    assert set(await service.subscriptions(group)) == {"drone_strike", "aid_package"}
    lookups = api.member_lookups
    await service.say(group, "/unsubscribe aid_package", user_id=801)
    assert api.member_lookups == lookups  # cached

    api.admins[group].add(804)
    api.fail_next(1, status=500, method="getChatMember")  # an error counts as "not an admin"
    assert "administrators" in await service.say(group, "/mute 1h", user_id=804)


@pytest.mark.slow
async def test_channel_posts_and_anonymous_admins_manage_their_chat(service: Service) -> None:
    api, channel, group = service.api, -1009001, -1009002
    api.chat_types[channel] = "channel"
    assert "drone_strike" in await service.say(channel, "/subscribe drone_strike")
    assert await service.subscriptions(channel) == {"drone_strike": None}
    anonymous = await service.say(group, "/subscribe all", user_id=1087968824, sender_chat_id=group)
    assert "all" in anonymous and "administrators" not in anonymous
    linked = await service.say(group, "/unsubscribe all", user_id=1, sender_chat_id=channel)
    assert "administrators" in linked


# ── buttons ────────────────────────────────────────────────────────────────


@pytest.mark.slow
async def test_alert_buttons_are_answered_and_take_effect(service: Service) -> None:
    api, store = service.api, service.app.store
    chats = {"mute": 911, "unsubscribe": 912, "not_relevant": 913}
    for chat in chats.values():
        await service.say(chat, "/subscribe drone_strike")
    await service.publish("Drone strike hits a power plant")
    await service.deliver_until(lambda: all(service.alerts(c) for c in chats.values()), "alerts")

    for (action, chat), (_label, data) in zip(
        chats.items(), buttons(service.alerts(911)[0])[:3], strict=True
    ):
        assert parse_telegram_callback(data).action == action
        [alert] = service.alerts(chat)
        api.push_update(api.click_update(chat, alert.message_id, chat, data))
        await wait_for(partial(edited, api, chat), f"the {action} outcome on the alert")

    assert len(api.callback_answers) == 3 and all(a.get("text") for a in api.callback_answers)
    for chat in chats.values():
        edit = edited(api, chat)
        assert edit is not None and edit.reply_markup is None
        assert shown(edit).startswith("Drone strike hits a power plant")
    muted_edit = edited(api, 911)
    assert muted_edit is not None and "muted drone_strike" in shown(muted_edit).splitlines()[-1]
    assert "drone_strike" in await store.muted_rules(
        Destination("telegram", "911"), service.clock()
    )
    assert await service.subscriptions(912) == {}
    feedback = await store.feedback_for("drone_strike")
    assert [(c.actor, c.outcome) for c in feedback] == [("telegram:913 (u913)", "noted")]

    await service.publish("Navy says sea drones attacked a frigate near the port overnight")
    await service.deliver_until(lambda: len(service.alerts(913)) == 2, "the next alert")
    assert [len(service.alerts(c)) for c in (911, 912)] == [1, 1]


def edited(api: FakeTelegramApi, chat: int) -> PostedMessage | None:
    return next((e for e in reversed(api.edits) if e.chat_id == chat), None)


@pytest.mark.slow
async def test_not_relevant_finds_its_story_however_old(service: Service) -> None:
    api = service.api
    await service.say(921, "/subscribe drone_strike")
    await service.publish("Drone strike hits a grain silo")
    await service.deliver_until(lambda: service.alerts(921), "the alert")
    [alert] = service.alerts(921)
    [data] = [d for _, d in buttons(alert) if parse_telegram_callback(d).action == "not_relevant"]
    service.clock.offset += timedelta(days=400)  # far past any window of recent stories
    api.push_update(api.click_update(921, alert.message_id, 921, data))
    outcome = await wait_for(partial(edited, api, 921), "the outcome on the alert")
    assert "not relevant" in shown(outcome).splitlines()[-1]
    [feedback] = await service.app.store.feedback_for("drone_strike")
    assert feedback.title == "Drone strike hits a grain silo"
    prefix = parse_telegram_callback(data).story_key
    stored = await service.app.store.get_story(feedback.story_key)
    assert prefix and stored is not None and stored.key.startswith(prefix)


@pytest.mark.slow
async def test_a_refused_or_foreign_button_is_still_answered(service: Service) -> None:
    api, group = service.api, -1009100
    await service.say(group, "/subscribe drone_strike", user_id=ADMIN)
    await service.publish("Drone strike hits a harbour")
    await service.deliver_until(lambda: service.alerts(group), "the group alert")
    [alert] = service.alerts(group)
    mute = buttons(alert)[0][1]
    api.push_update(api.click_update(group, alert.message_id, 4242, mute))  # a plain member
    api.push_update(api.click_update(group, alert.message_id, 4242, "zz:not-ours"))
    await wait_for(lambda: len(api.callback_answers) == 2, "both answers")
    refused, foreign = api.callback_answers
    assert "administrators" in refused["text"] and refused.get("show_alert") == "true"
    assert foreign.get("show_alert") == "true" and foreign["text"]
    assert api.edits == []
    assert await service.subscriptions(group) == {"drone_strike": None}


# ── webhook mode ───────────────────────────────────────────────────────────


@pytest.mark.slow
async def test_webhook_checks_the_secret(
    tmp_path: Path, api: FakeTelegramApi, feeds: FeedServer
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    service = await start_service(
        tmp_path,
        api,
        feeds,
        http_port=port,
        telegram_webhook_url=url,
        telegram_webhook_secret="s3cret-token_1",
    )
    try:
        assert api.webhook is not None and api.webhook["url"] == url
        assert api.webhook["secret_token"] == "s3cret-token_1"
        assert api.get_updates_calls == []  # no long polling in webhook mode
        subscribe = api.message_update(1201, "/subscribe drone_strike", user_id=1201)
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "s3cret-token_"}):
            assert await api.post_webhook(subscribe, headers) == 403
        await asyncio.sleep(0.2)
        assert api.messages == [] and await service.subscriptions(1201) == {}

        assert await api.deliver_webhook(subscribe) == 200
        await wait_for(lambda: api.texts(1201), "the reply to the webhook update")
        assert await service.subscriptions(1201) == {"drone_strike": None}
        right = {SECRET_HEADER: "s3cret-token_1"}
        assert await api.post_webhook(b"[1, 2]", right) == 400
        assert await api.post_webhook(b"{not json", right) == 400
    finally:
        await stop_service(service)
    assert api.webhook is not None and api.webhook_deletions == 0  # stop deletes nothing


async def test_webhook_without_secret_is_refused_at_start(
    tmp_path: Path, api: FakeTelegramApi
) -> None:
    settings = settings_for(
        tmp_path, api, telegram_webhook_url="https://bot.example/telegram/webhook"
    )
    app = await build_app(settings)
    try:
        with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET") as caught:
            await start_platforms(app, HttpServer(app))
    finally:
        await app.close()
    assert "\n" not in str(caught.value)
    assert api.webhook is None and api.get_updates_calls == []


async def test_wrong_token_is_a_config_error_that_hides_it(
    tmp_path: Path, api: FakeTelegramApi
) -> None:
    app = await build_app(settings_for(tmp_path, api, telegram_bot_token="123:WRONG"))
    try:
        with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN") as caught:
            await start_platforms(app, HttpServer(app))
        with pytest.raises(PermanentDeliveryError) as refused:  # the notifier says the same
            await app.notifiers["telegram"].send(Destination("telegram", "1"), make_alert())
    finally:
        await app.close()
    assert "WRONG" not in str(caught.value) and "WRONG" not in str(refused.value)


# ── several instances on one database ─────────────────────────────────────

LEASE_SECONDS = 1.5


async def start_front_end(tmp_path: Path, api: FakeTelegramApi, name: str) -> tuple[App, Stopper]:
    """An instance on the shared database whose Bot API calls the stand-in knows by `name`."""
    settings = settings_for(tmp_path, api, telegram_api_base_url=api.base_url_for(name))
    app = await build_app(settings)
    try:
        return app, await start_telegram(
            frontend_deps(app, HttpServer(app)), poll_lease_seconds=LEASE_SECONDS
        )
    except BaseException:
        await app.close()
        raise


@pytest.mark.slow
async def test_only_the_lease_holder_long_polls_and_a_standby_takes_over(
    tmp_path: Path, api: FakeTelegramApi
) -> None:
    first, stop_first = await start_front_end(tmp_path, api, "first")
    second, stop_second = await start_front_end(tmp_path, api, "second")
    try:
        await wait_for(lambda: api.get_updates_callers, "long polling to start")
        await asyncio.sleep(3 * LEASE_SECONDS)  # both renew or try several times
        assert set(api.get_updates_callers) == {"first"}
        assert "drone_strike" in await say(api, 1401, "/subscribe drone_strike")
        await second.notifiers["telegram"].send(Destination("telegram", "1402"), make_alert())
        assert len(api.texts(1402)) == 1  # the standby still delivers alerts

        await stop_first()
        polls_before = len(api.get_updates_callers)
        await wait_for(
            lambda: "second" in api.get_updates_callers[polls_before:],
            "the standby to take over",
            within=2 * LEASE_SECONDS,
        )
        assert "drone_strike" in await say(api, 1403, "/rules")
        assert set(api.get_updates_callers[polls_before:]) == {"second"}
        assert api.get_updates_conflicts == 0
    finally:
        for stop, app in ((stop_first, first), (stop_second, second)):
            await stop()
            await app.close()


@dataclass
class Switches:
    """What a PollLease switched, in order."""

    events: list[str] = field(default_factory=list)

    async def start(self) -> None:
        self.events.append("start")

    async def stop(self) -> None:
        self.events.append("stop")


async def test_poll_lease_polls_while_held_and_stops_when_lost(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/lease.db")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    switches = Switches()
    lease = PollLease(
        store, "me", lambda: now, start_polling=switches.start, stop_polling=switches.stop
    )
    try:
        assert await store.acquire_lease(POLL_LEASE, "other", now, 30)
        await lease.check()
        assert (lease.held, switches.events) == (False, [])
        now += timedelta(seconds=30)  # the other's lease expired
        await lease.check()
        await lease.check()  # renewed: no change
        assert (lease.held, switches.events) == (True, ["start"])
        now += timedelta(seconds=31)  # we stalled; ours expired and the other took it
        assert await store.acquire_lease(POLL_LEASE, "other", now, 30)
        await lease.check()
        assert (lease.held, switches.events) == (False, ["start", "stop"])
        assert await store.release_lease(POLL_LEASE, "other")
        await lease.check()
        await lease.close()
        assert switches.events == ["start", "stop", "start", "stop"]
        assert await store.acquire_lease(POLL_LEASE, "other", now, 30)  # released
    finally:
        await store.close()


async def test_poll_lease_rides_out_a_short_store_outage_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store(f"sqlite:///{tmp_path}/lease.db")
    switches = Switches()
    lease = PollLease(
        store,
        "me",
        lambda: datetime.now(UTC),
        start_polling=switches.start,
        stop_polling=switches.stop,
        seconds=1.2,
    )

    async def unreachable(*args: object) -> bool:
        raise StoreError("database write failed: connection refused")

    try:
        await lease.check()
        monkeypatch.setattr(store, "acquire_lease", unreachable)
        await lease.check()  # just renewed: surely still ours
        assert (lease.held, switches.events) == (True, ["start"])
        await asyncio.sleep(1.0)  # the lease may lapse before the next check
        await lease.check()
        assert (lease.held, switches.events) == (False, ["start", "stop"])
    finally:
        await store.close()


# ── the whole service ──────────────────────────────────────────────────────


@pytest.mark.slow
async def test_serve_runs_the_bot_from_feed_add_to_alert(
    tmp_path: Path, api: FakeTelegramApi, feeds: FeedServer
) -> None:
    from bot.service.run import serve

    newsroom = Newsroom(feeds)
    start = datetime.now(UTC)
    for n in range(3):
        newsroom.add(f"Old news {n}", start - timedelta(seconds=3 - n))
    stop = asyncio.Event()
    settings = settings_for(tmp_path, api, poll_interval=0.3)
    running = asyncio.create_task(serve(settings, stop=stop))
    try:
        await wait_for(lambda: api.get_updates_calls, "long polling to start")
        reply = await say(api, ADMIN, f"/feed add {feeds.url('/wire.xml')} wire")
        assert "added feed" in reply
        assert "drone_strike" in await say(api, 1301, "/subscribe drone_strike")
        await wait_for(lambda: feeds.hits["/wire.xml"] >= 1, "the first poll", within=15)
        newsroom.add("Drone strike hits an oil terminal", datetime.now(UTC))
        alert = await wait_for(lambda: api.texts(1301)[1:], "the alert", within=20)
        assert parse_telegram_html(alert[0]).startswith("Drone strike hits an oil terminal")
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    assert len(api.texts(1301)) == 2
