"""TelegramNotifier (real python-telegram-bot) against the loopback Bot API stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from telegram import Bot, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.core import metrics
from bot.core.errors import (
    ChatMigratedError,
    ConfigError,
    DeliveryError,
    DestinationGoneError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
)
from bot.core.model import Alert, Destination, FollowUp
from bot.delivery.ratelimit import telegram_limiter
from bot.platforms.render import clean_text
from bot.platforms.telegram.notifier import TelegramNotifier, map_telegram_error
from bot.platforms.telegram.render import render_telegram, telegram_keyboard
from tests.support.fake_telegram import FakeTelegramApi, parse_telegram_html
from tests.test_render import HOSTILE, make_alert, other_story, with_sources

# RetryAfter's own constructor reads its deprecated int `retry_after` (python-telegram-bot 22).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramApi]:
    async with FakeTelegramApi() as fake:
        yield fake


@pytest.fixture
async def notifier(api: FakeTelegramApi) -> AsyncIterator[TelegramNotifier]:
    sender = TelegramNotifier(api.token, base_url=api.base_url, limiter=telegram_limiter())
    yield sender
    await sender.close()


def chat(chat_id: int) -> Destination:
    return Destination("telegram", str(chat_id))


async def test_alert_arrives_rendered_with_buttons_and_no_preview(
    api: FakeTelegramApi, notifier: TelegramNotifier
) -> None:
    alert = make_alert()
    message_id = await notifier.send(chat(42), alert)
    [posted] = api.messages
    assert (message_id, posted.chat_id) == ("1", 42)
    assert (posted.text, posted.parse_mode) == (render_telegram(alert), "HTML")
    assert posted.link_preview_options == {"is_disabled": True}
    buttons = posted.reply_markup["inline_keyboard"]
    expected = [
        [{"text": t, "callback_data": d} for t, d in row] for row in telegram_keyboard(alert)
    ]
    assert buttons == expected


async def test_hostile_feed_text_is_accepted_and_shown_literally(
    api: FakeTelegramApi, notifier: TelegramNotifier
) -> None:
    alerts = [make_alert(title=t, summary=t, publisher=t, why=t) for t in HOSTILE]
    for n, alert in enumerate(alerts):
        await notifier.send(chat(100 + n), alert)
    assert api.rejected == []
    for n, text in enumerate(HOSTILE):
        [raw] = api.texts(100 + n)
        assert parse_telegram_html(raw).count(clean_text(text)) == 4


@pytest.mark.parametrize(
    "html",
    [
        "<b>unclosed",
        "<script>alert(1)</script>",
        "a < b",
        "fish &nbsp; chips",
        "bare & ampersand",
        '<a href="javascript:alert(1)">x</a>',
        "<b><i>x</b></i>",
        "<span>x</span>",
        "</b>",
        '<b onclick="x">y</b>',
    ],
)
async def test_stand_in_rejects_malformed_html_like_telegram(
    api: FakeTelegramApi, html: str
) -> None:
    async with Bot(api.token, base_url=f"{api.base_url}/bot") as bot:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as caught:
            await bot.send_message(7, html, parse_mode="HTML")
    assert isinstance(map_telegram_error(caught.value, "7"), PermanentDeliveryError)
    assert api.messages == []


@pytest.mark.parametrize(
    ("html", "shown"),
    [
        ("<b>x</b> &amp; &lt;&gt;&quot; &#128512; &#x1F600;", 'x & <>" 😀 😀'),
        ('<a href="https://x.example/?a=1&amp;b=2">link</a>', "link"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ("<blockquote expandable>q</blockquote> a > b", "q a > b"),
    ],
)
async def test_stand_in_accepts_valid_html(api: FakeTelegramApi, html: str, shown: str) -> None:
    async with Bot(api.token, base_url=f"{api.base_url}/bot") as bot:
        message = await bot.send_message(7, html, parse_mode="HTML")
    assert message.text == shown


def rate_limited_count(platform: str) -> float:
    """newswatch_rate_limited_total for `platform` (one registry per process)."""
    found = metrics.REGISTRY.get_sample_value(
        "newswatch_rate_limited_total", {"platform": platform}
    )
    return found or 0.0


async def test_429_storm_delivers_everything_once_in_order() -> None:
    limited_before = rate_limited_count("telegram")
    chats = [11, 12, 13]
    async with FakeTelegramApi(global_per_second=2) as api:
        sender = TelegramNotifier(api.token, base_url=api.base_url, limiter=telegram_limiter())

        async def deliver_in_order(chat_id: int) -> None:
            for n in range(3):
                alert = make_alert(title=f"story {n} for {chat_id}")
                for _attempt in range(20):  # the delivery loop's job in production
                    try:
                        await sender.send(chat(chat_id), alert)
                        break
                    except RateLimitedError:
                        continue

        await asyncio.gather(*(deliver_in_order(c) for c in chats))
        await sender.close()
    assert api.rate_limited > 0
    assert rate_limited_count("telegram") - limited_before == api.rate_limited
    for chat_id in chats:
        titles = [parse_telegram_html(t).split("\n")[0] for t in api.texts(chat_id)]
        assert titles == [f"story {n} for {chat_id}" for n in range(3)]


@pytest.mark.parametrize(
    ("setup", "chat_id", "error", "says"),
    [
        ("blocked", 5, DestinationGoneError, "bot was blocked by the user"),
        ("blocked", -5, DestinationGoneError, "kicked from the group chat"),
        ("unknown", 6, DestinationGoneError, "(?i)chat not found"),
        ("migrated", -7, ChatMigratedError, "became supergroup -1007"),
        ("failing", 8, RetryableDeliveryError, "Internal Server Error"),
    ],
)
async def test_delivery_errors_are_mapped(
    api: FakeTelegramApi,
    notifier: TelegramNotifier,
    setup: str,
    chat_id: int,
    error: type[DeliveryError],
    says: str,
) -> None:
    if setup == "blocked":
        api.blocked_chats.add(chat_id)
    elif setup == "unknown":
        api.unknown_chats.add(chat_id)
    elif setup == "migrated":
        api.migrated[chat_id] = -1007
    else:
        api.fail_next(1, status=500)
    with pytest.raises(error, match=says) as caught:
        await notifier.send(chat(chat_id), make_alert())
    if isinstance(caught.value, ChatMigratedError):
        assert caught.value.new_chat_id == "-1007"
    await notifier.send(chat(99), make_alert())
    assert [m.chat_id for m in api.messages] == [99]


async def test_unreachable_api_is_retryable(api: FakeTelegramApi) -> None:
    await api.close()
    sender = TelegramNotifier(api.token, base_url=api.base_url, limiter=telegram_limiter())
    with pytest.raises(RetryableDeliveryError, match="NetworkError"):
        await sender.send(chat(1), make_alert())
    await sender.close()


async def test_wrong_token_names_the_setting(api: FakeTelegramApi) -> None:
    sender = TelegramNotifier("999:WRONG", base_url=api.base_url, limiter=telegram_limiter())
    with pytest.raises(PermanentDeliveryError, match="check TELEGRAM_BOT_TOKEN"):
        await sender.send(chat(1), make_alert())
    await sender.close()


async def test_update_adds_the_other_sources(
    api: FakeTelegramApi, notifier: TelegramNotifier
) -> None:
    alert = make_alert()
    message_id = await notifier.send(chat(-100500), alert)
    later = FollowUp(with_sources(alert, [other_story("Wire", "https://wire.example/1")]))
    await notifier.update(chat(-100500), message_id, later)
    await notifier.update(chat(-100500), message_id, later)  # not modified: fine
    [edit] = api.edits
    assert (edit.chat_id, edit.message_id) == (-100500, int(message_id))
    assert edit.text == render_telegram(later.alert)
    assert parse_telegram_html(edit.text).endswith("Also reported by: Wire (2 outlets)")
    assert edit.reply_markup == api.messages[0].reply_markup  # the buttons stay


@pytest.mark.parametrize(
    ("message_id", "says"), [("77", "(?i)message to edit not found"), ("x", "not a number")]
)
async def test_update_of_an_unknown_message(
    notifier: TelegramNotifier, message_id: str, says: str
) -> None:
    with pytest.raises(PermanentDeliveryError, match=says):
        await notifier.update(chat(3), message_id, FollowUp(make_alert()))


@pytest.mark.parametrize(
    ("token", "base_url", "says"),
    [
        ("", "http://127.0.0.1:1", "TELEGRAM_BOT_TOKEN is empty"),
        ("1:A", "ftp://api.example", "TELEGRAM_API_BASE_URL 'ftp://api.example' is not an http"),
    ],
)
def test_bad_settings_say_how_to_fix(token: str, base_url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        TelegramNotifier(token, base_url=base_url, limiter=telegram_limiter())


@pytest.mark.parametrize(
    ("error", "expected", "retry_after"),
    [
        (lambda: RetryAfter(3), RateLimitedError, 3.0),
        (ChatMigrated(-1001), ChatMigratedError, None),
        (
            Forbidden("Forbidden: bot is not a member of the channel chat"),
            DestinationGoneError,
            None,
        ),
        (BadRequest("Bad Request: chat not found"), DestinationGoneError, None),
        (
            BadRequest("Bad Request: not enough rights to send text messages"),
            DestinationGoneError,
            None,
        ),
        (BadRequest("Can't parse entities: unsupported start tag"), PermanentDeliveryError, None),
        (TimedOut(), RetryableDeliveryError, None),
        (NetworkError("Bad Gateway"), RetryableDeliveryError, None),
        (InvalidToken(), PermanentDeliveryError, None),
        (TelegramError("something new"), PermanentDeliveryError, None),
    ],
)
def test_error_mapping(
    error: TelegramError | Callable[[], TelegramError],
    expected: type[DeliveryError],
    retry_after: float | None,
) -> None:
    mapped = map_telegram_error(error if isinstance(error, TelegramError) else error(), "1")
    assert type(mapped) is expected
    assert getattr(mapped, "retry_after", None) == retry_after


# ── the stand-in's other methods, through the real Bot ──


async def test_get_updates_honours_offset_and_long_poll(api: FakeTelegramApi) -> None:
    message = {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "/help"}
    async with Bot(api.token, base_url=f"{api.base_url}/bot") as bot:
        first = api.push_update({"message": message})
        [update] = await bot.get_updates(offset=0, timeout=0)
        assert isinstance(update, Update) and update.update_id == first
        assert update.message is not None and update.message.text == "/help"
        waiting = asyncio.create_task(bot.get_updates(offset=first + 1, timeout=10))
        await asyncio.sleep(0.05)
        second = api.push_update({"message": {**message, "text": "/status"}})
        assert [u.update_id for u in await waiting] == [second]
        assert await bot.get_updates(offset=second + 1, timeout=0) == ()


async def test_chat_members_commands_webhooks_and_callbacks(api: FakeTelegramApi) -> None:
    api.admins[-100] = {7}
    async with Bot(api.token, base_url=f"{api.base_url}/bot") as bot:
        assert (await bot.get_chat_member(-100, 7)).status == "administrator"
        assert (await bot.get_chat_member(-100, 8)).status == "member"
        assert (await bot.get_chat(-100)).type == "supergroup"
        assert await bot.set_my_commands([("subscribe", "Subscribe to a rule")])
        assert [c.command for c in await bot.get_my_commands()] == ["subscribe"]
        assert await bot.set_webhook("https://bot.example/telegram/webhook", secret_token="s3")
        assert api.webhook is not None and api.webhook["secret_token"] == "s3"
        assert await bot.delete_webhook()
        assert api.webhook is None
        assert await bot.answer_callback_query("cb1", text="Muted")
    assert api.callback_answers[0]["text"] == "Muted"


def test_alert_without_matches_has_no_keyboard() -> None:
    assert telegram_keyboard(Alert(make_alert().story, (), "s")) == []
