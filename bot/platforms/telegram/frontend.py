"""What the Telegram bot does with each update (wired up in bot.platforms.telegram.app).

- Text messages and channel posts → `Command` → `handlers.dispatch` → an HTML reply
  (bot.platforms.telegram.replies), sent within the bot's rate limiter (the
  one alerts use, so replies and alerts never together break Telegram's
  limits), as a reply to the command in groups and channels.
- Button presses → `ActionCommand` → always an answerCallbackQuery (a pop-up
  when refused); when the reply replaces the original, the alert keeps its
  text, loses its buttons and gains the outcome as its last line.
- The bot removed from or blocked in a chat pauses its subscriptions; added
  back (or unblocked) resumes them. A group upgraded to a supergroup moves
  its subscriptions to the new chat id.
- Errors from the Bot API are logged with structured fields; they never stop
  the application.

Updates are processed concurrently across chats but in order within a chat
(`ChatOrderedProcessor`), so a slow reply in one chat never holds up others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Bot, CallbackQuery, LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import BaseUpdateProcessor, ContextTypes

from bot.core.errors import CommandError, RateLimitedError
from bot.core.model import Destination
from bot.delivery.ratelimit import RateLimiter
from bot.platforms.render import clean_text
from bot.platforms.telegram.intake import PLATFORM, click_from_callback, command_from_message
from bot.platforms.telegram.notifier import map_telegram_error
from bot.platforms.telegram.replies import alert_with_outcome, callback_answer, render_reply
from handlers import ChatKind, HandlerContext, Reply, dispatch
from handlers.dispatch import GENERIC_FAILURE

log = logging.getLogger(__name__)
T = TypeVar("T")

ADMIN_CACHE_SECONDS = 60.0
ADMIN_CACHE_MAX = 10_000
SEND_ATTEMPTS = 3
ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}
GONE_STATUSES = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}
PRESENT_STATUSES = {ChatMemberStatus.MEMBER, *ADMIN_STATUSES}
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def update_fields(update: object) -> dict[str, Any]:
    """Structured log fields naming an update: its id, chat and user."""
    if not isinstance(update, Update):
        return {"platform": PLATFORM}
    chat, user = update.effective_chat, update.effective_user
    return {
        "platform": PLATFORM,
        "update_id": update.update_id,
        "chat_id": chat.id if chat else None,
        "user_id": user.id if user else None,
    }


class TelegramChatAdmins:
    """`ChatAdminCheck` by getChatMember (administrator or creator), cached briefly.

    A message sent on behalf of the chat itself (`user_id == chat_id`: a
    channel post, an anonymous group admin) can only come from one of its
    administrators. Any error counts as "no" and is logged, not cached.
    """

    def __init__(
        self,
        bot: Bot,
        *,
        ttl_seconds: float = ADMIN_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot, self._ttl, self._clock = bot, ttl_seconds, clock
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        """Whether the user administers the chat (see the class docstring)."""
        if user_id == chat_id:
            return True
        now = self._clock()
        cached = self._cache.get((chat_id, user_id))
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            member = await self._bot.get_chat_member(int(chat_id), int(user_id))
        except (TelegramError, ValueError) as error:
            fields = {"platform": PLATFORM, "chat_id": chat_id, "user_id": user_id}
            log.warning("getChatMember failed: %s", error, extra=fields)
            return False
        if len(self._cache) >= ADMIN_CACHE_MAX:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        answer = member.status in ADMIN_STATUSES
        self._cache[(chat_id, user_id)] = (now + self._ttl, answer)
        return answer


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Up to `max_concurrent_updates` at once, but one at a time per chat, in order."""

    def __init__(self, max_concurrent_updates: int = 16) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._waiting: dict[int | None, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers once the chat's earlier updates are done."""
        chat = update.effective_chat if isinstance(update, Update) else None
        key = chat.id if chat else None
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class TelegramFrontEnd:
    """The update callbacks (see the module docstring); one per running bot."""

    def __init__(self, ctx: HandlerContext, bot: Bot, limiter: RateLimiter) -> None:
        self._ctx, self._bot, self._limiter = ctx, bot, limiter

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a command typed in a chat (or posted in a channel)."""
        message = update.effective_message
        if message is None:
            return
        command = command_from_message(message, self._bot.username)
        if command is None:
            return
        reply = await dispatch(self._ctx, command)
        in_thread = command.chat_kind != ChatKind.PRIVATE or reply.ephemeral
        await self.send_reply(message, reply, in_thread=in_thread)

    async def send_reply(self, message: Message, reply: Reply, *, in_thread: bool) -> None:
        """Send the rendered reply to the message's chat (as a reply to it if `in_thread`),
        in as many messages as it takes, in order."""
        quote = ReplyParameters(message.message_id, allow_sending_without_reply=True)
        for text in render_reply(reply):

            async def send(text: str = text) -> Message:
                return await self._bot.send_message(
                    message.chat.id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW,
                    reply_parameters=quote if in_thread else None,
                )

            await self.limited(message.chat.id, send)

    async def on_click(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a press on an alert's button, and show its outcome on the alert."""
        query = update.callback_query
        if query is None:
            return
        try:
            click = await click_from_callback(self._ctx, query)
        except CommandError as error:
            await query.answer(callback_answer(Reply(str(error))), show_alert=True)
            return
        except Exception:  # the click is still answered; the store may be down
            log.exception("telegram button not decoded", extra=update_fields(update))
            await query.answer(GENERIC_FAILURE, show_alert=True)
            return
        reply = await dispatch(self._ctx, click)
        await query.answer(callback_answer(reply), show_alert=not reply.ok)
        if reply.replace_original:
            await self.show_outcome(query, reply)

    async def show_outcome(self, query: CallbackQuery, reply: Reply) -> None:
        """Replace the alert's buttons by the outcome line, keeping its text."""
        message = query.message
        if not isinstance(message, Message) or not message.text:
            return  # too old to see (InaccessibleMessage): the answer said it all
        chat_id, message_id = message.chat.id, message.message_id
        text = alert_with_outcome(message.text_html, reply.text)

        async def edit() -> object:
            if text is None:
                return await self._bot.edit_message_reply_markup(chat_id, message_id)
            return await self._bot.edit_message_text(
                text,
                chat_id,
                message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
            )

        try:
            await self.limited(chat_id, edit)
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                raise
        # Later follow-up edits of this alert keep the answer instead of the buttons.
        destination = Destination(PLATFORM, str(chat_id))
        await self._ctx.store.record_outcome(destination, str(message_id), clean_text(reply.text))

    async def on_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Pause a chat that removed or blocked the bot; resume it when it is back."""
        change = update.my_chat_member
        if change is None:
            return
        old, new = change.old_chat_member.status, change.new_chat_member.status
        destination = Destination(PLATFORM, str(change.chat.id))
        fields = {"platform": PLATFORM, "chat_id": change.chat.id, "status": new}
        if new in GONE_STATUSES:
            log.info("bot removed from %s: pausing its subscriptions", destination, extra=fields)
            reason = f"the bot was removed from the chat or blocked (status {new})"
            await self._ctx.store.pause_destination(destination, reason)
        elif new in PRESENT_STATUSES and old in GONE_STATUSES:
            log.info("bot back in %s: resuming its subscriptions", destination, extra=fields)
            await self._ctx.store.pause_destination(destination, None)

    async def on_migration(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup: move its subscriptions to the new chat id."""
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id is not None:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id is not None:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        log.info("telegram chat %s migrated to %s", old, new, extra={"platform": PLATFORM})
        await self._ctx.store.migrate_destination(
            Destination(PLATFORM, str(old)), Destination(PLATFORM, str(new))
        )

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log an error raised while handling an update; the application carries on."""
        error = context.error
        fields = {**update_fields(update), "error": type(error).__name__}
        if isinstance(error, TelegramError):
            chat_id = fields.get("chat_id")
            mapped = map_telegram_error(error, None if chat_id is None else str(chat_id))
            log.warning("telegram update not fully handled: %s", mapped, extra=fields)
            return
        log.error("telegram update handler crashed", exc_info=error, extra=fields)

    async def limited(self, chat_id: int, call: Callable[[], Awaitable[T]]) -> T:
        """One API call that counts against the chat's limits; after a 429 the limiter
        holds back (the whole bot, as Telegram's flood wait does) and it tries again."""
        key = str(chat_id)
        for _ in range(SEND_ATTEMPTS - 1):
            await self._limiter.acquire(key)
            try:
                return await call()
            except RetryAfter as error:
                mapped = map_telegram_error(error, key)
                wait = mapped.retry_after if isinstance(mapped, RateLimitedError) else None
                self._limiter.penalize(None, wait or 1.0)
                self._limiter.penalize(key, wait or 1.0)
        await self._limiter.acquire(key)
        return await call()
