"""Telegram delivery: alerts posted through python-telegram-bot's `Bot` (v22, async).

`TelegramNotifier` renders with `bot.platforms.telegram.render`, waits for its `RateLimiter`
(keyed by chat id), sends one HTML message with link previews off and the
alert's inline keyboard, and maps python-telegram-bot's errors to
`bot.core.errors` here, where they enter (table in `bot.delivery.notifier`). After a 429 it
holds back the whole bot and the chat for `retry_after`, since Telegram's
flood wait applies to the bot.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
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
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

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
from bot.core.model import Alert, Destination, Digest, DigestPart, FollowUp
from bot.delivery.ratelimit import RateLimiter
from bot.platforms.render import clean_text
from bot.platforms.telegram.render import (
    TELEGRAM_TEXT_LIMIT,
    Keyboard,
    escape_html,
    render_telegram,
    render_telegram_digest,
    telegram_keyboard,
)

DEFAULT_API_BASE_URL = "https://api.telegram.org"
T = TypeVar("T")

# Bad Request descriptions that mean the bot can no longer post in the chat.
_GONE_DESCRIPTIONS = (
    "chat not found",
    "peer_id_invalid",
    "chat_write_forbidden",
    "not enough rights",
    "have no rights to send",
    "need administrator rights",
    "bot is not a member",
    "user is deactivated",
    "chat_restricted",
)


def bot_urls(api_base_url: str) -> tuple[str, str]:
    """(base_url, base_file_url) for `telegram.Bot` from TELEGRAM_API_BASE_URL (the root)."""
    root = api_base_url.rstrip("/")
    if not root.startswith(("http://", "https://")):
        raise ConfigError(
            f"TELEGRAM_API_BASE_URL {api_base_url!r} is not an http(s) URL: "
            f"use e.g. {DEFAULT_API_BASE_URL} or http://localhost:8081"
        )
    return f"{root}/bot", f"{root}/file/bot"


def telegram_markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    """The inline keyboard object for rows of (text, callback_data)."""
    if not keyboard:
        return None
    rows = [
        [InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in keyboard
    ]
    return InlineKeyboardMarkup(rows)


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # the int form is deprecated; we accept either
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def map_telegram_error(error: TelegramError, chat_id: str | None = None) -> DeliveryError:
    """Our error for a python-telegram-bot error (order matters: BadRequest is a NetworkError)."""
    where = f"telegram chat {chat_id}" if chat_id else "telegram"
    if isinstance(error, RetryAfter):
        retry_after = _retry_after_seconds(error)
        metrics.RATE_LIMITED.labels("telegram").inc()
        return RateLimitedError(
            f"{where}: flood control, retry in {retry_after:g}s", retry_after=retry_after
        )
    if isinstance(error, ChatMigrated):
        return ChatMigratedError(
            f"{where} became supergroup {error.new_chat_id}: move its subscriptions",
            new_chat_id=str(error.new_chat_id),
        )
    if isinstance(error, Forbidden):
        return DestinationGoneError(f"{where}: {error.message}")
    if isinstance(error, InvalidToken):  # its message quotes the token: leave it out
        return PermanentDeliveryError("Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN")
    if isinstance(error, BadRequest):
        description = error.message.lower()
        if any(gone in description for gone in _GONE_DESCRIPTIONS):
            return DestinationGoneError(f"{where}: {error.message}")
        return PermanentDeliveryError(f"{where}: Telegram refused the message: {error.message}")
    if isinstance(error, TimedOut | NetworkError):
        return RetryableDeliveryError(f"{where}: {type(error).__name__}: {error.message}")
    return PermanentDeliveryError(f"{where}: {type(error).__name__}: {error.message}")


def _chat_ref(chat_id: str) -> int | str:
    """Numeric chat ids as int; `@channelname` stays a string."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


class TelegramNotifier:
    """Posts and edits alerts in Telegram chats (see module docstring)."""

    platform = "telegram"

    def __init__(
        self,
        bot_token: str,
        *,
        base_url: str = DEFAULT_API_BASE_URL,
        limiter: RateLimiter,
        timeout: float = 10.0,
        connection_pool_size: int = 64,
    ) -> None:
        if not bot_token.strip():
            raise ConfigError("TELEGRAM_BOT_TOKEN is empty: set it to the token BotFather gave you")
        api_url, file_url = bot_urls(base_url)
        request = HTTPXRequest(
            connection_pool_size=connection_pool_size,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        self._bot = Bot(
            bot_token.strip(), base_url=api_url, base_file_url=file_url, request=request
        )
        self._limiter = limiter
        self._started = False

    async def send(self, destination: Destination, alert: Alert) -> str:
        """Post the alert as HTML with its buttons; returns Telegram's message_id."""
        markup = telegram_markup(telegram_keyboard(alert))
        return await self._post(destination, render_telegram(alert), markup)

    async def send_digest(self, destination: Destination, digest: Digest, part: int) -> DigestPart:
        """Post one part of the digest (HTML, no buttons)."""
        parts = render_telegram_digest(digest)
        if part >= len(parts):
            return DigestPart("", len(parts))
        return DigestPart(await self._post(destination, parts[part], None), len(parts))

    async def _post(
        self, destination: Destination, text: str, markup: InlineKeyboardMarkup | None
    ) -> str:
        async def post() -> Message:
            return await self._bot.send_message(
                chat_id=_chat_ref(destination.chat_id),
                text=text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=markup,
            )

        message = await self._call(destination.chat_id, post)
        return str(message.message_id)

    async def send_notice(self, destination: Destination, text: str) -> str:
        """Post a plain notice (escaped, no buttons, no preview); returns the message_id."""

        async def post() -> Message:
            return await self._bot.send_message(
                chat_id=_chat_ref(destination.chat_id),
                text=escape_html(clean_text(text))[:TELEGRAM_TEXT_LIMIT],
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )

        message = await self._call(destination.chat_id, post)
        return str(message.message_id)

    async def update(self, destination: Destination, message_id: str, follow_up: FollowUp) -> None:
        """Edit the posted alert (unchanged text is fine): its sources and urgency, and
        its buttons, unless a button's answer replaced them (that answer stays)."""
        if not message_id.isdigit():
            raise PermanentDeliveryError(
                f"telegram message id {message_id!r} is not a number: pass the id send() returned"
            )
        alert = follow_up.alert
        text = render_telegram(alert, outcome=follow_up.outcome)
        markup = None if follow_up.outcome else telegram_markup(telegram_keyboard(alert))

        async def edit() -> object:
            return await self._bot.edit_message_text(
                text,
                chat_id=_chat_ref(destination.chat_id),
                message_id=int(message_id),
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=markup,
            )

        try:
            await self._call(destination.chat_id, edit)
        except PermanentDeliveryError as error:
            if "message is not modified" not in str(error).lower():
                raise

    async def start(self) -> None:
        """Connect and check the token with getMe (optional: the first send does it too)."""
        try:
            await self._ensure_started()
        except TelegramError as error:
            raise map_telegram_error(error) from error

    async def _ensure_started(self) -> None:
        if not self._started:
            await self._bot.initialize()
            self._started = True

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._bot.shutdown()

    async def _call(self, chat_id: str, request: Callable[[], Awaitable[T]]) -> T:
        """One rate-limited API call with errors mapped; after a 429 the limiter holds back."""
        try:
            await self._ensure_started()
            await self._limiter.acquire(chat_id)
            return await request()
        except TelegramError as error:
            mapped = map_telegram_error(error, chat_id)
            if isinstance(mapped, RateLimitedError) and mapped.retry_after is not None:
                self._limiter.penalize(None, mapped.retry_after)
                self._limiter.penalize(chat_id, mapped.retry_after)
            raise mapped from error
