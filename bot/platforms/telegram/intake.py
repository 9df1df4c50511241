"""Telegram updates in, platform-neutral commands out.

- A text message or channel post is a command when it starts with `/`.
  `/cmd@botname` loses its `@botname`; a command addressed to another bot
  is ignored. In a private chat a message without the slash is a command
  too (people forget it); in groups and channels it is ignored. `/start`,
  which Telegram sends when someone opens the bot, means `help`.
- Who acted: the sending user (`user_id` is the Telegram user id, as in
  TELEGRAM_ADMIN_IDS; `user_name` the @username or full name). A message
  sent on behalf of a chat has no user: a channel post, an anonymous group
  admin, a linked channel. Then the sending chat stands in, with its id as
  `user_id` and its title as `user_name`; when that is the chat itself
  (channel posts, anonymous admins) only the chat's administrators can have
  sent it, and `TelegramChatAdmins` answers yes for it. Such a sender is
  never a bot admin, so admin commands need a person.
- Button clicks decode the callback data of `bot.platforms.telegram.render.telegram_keyboard`:
  the rule reference resolves against the rules in force and the chat's
  subscriptions, and the story's 12-character key prefix (all that fits in
  callback_data) to the one stored story whose key starts with it, however
  old (`Store.find_story_by_key_prefix`, an index lookup). The apply/skip
  buttons under a proposed feedback change carry its feedback id.
"""

from __future__ import annotations

from telegram import CallbackQuery, Chat, Message
from telegram.constants import ChatType

from bot.core.errors import CommandError
from bot.core.model import Destination
from bot.platforms.render import rule_ref_matches
from bot.platforms.telegram.render import parse_telegram_callback
from handlers import ActionCommand, ButtonAction, ChatKind, Command, HandlerContext

PLATFORM = "telegram"
ALIASES = {"start": "help"}
"""Telegram's conventional commands mapped to ours."""

CHAT_KINDS: dict[str, ChatKind] = {
    ChatType.PRIVATE: ChatKind.PRIVATE,
    ChatType.GROUP: ChatKind.GROUP,
    ChatType.SUPERGROUP: ChatKind.GROUP,
    ChatType.CHANNEL: ChatKind.CHANNEL,
}


def chat_kind(chat: Chat) -> ChatKind | None:
    """Our kind of chat, or None for kinds we do not serve (e.g. a `sender` chat)."""
    return CHAT_KINDS.get(chat.type)


def command_text(text: str, *, bot_username: str, private: bool) -> str | None:
    """The command (`subscribe drone_strike`) in a message, or None if it is not one for us."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return stripped if private and stripped else None
    words = stripped[1:].split(maxsplit=1)
    if not words:
        return None
    name, _, addressee = words[0].partition("@")
    if addressee and addressee.lower() != bot_username.lower():
        return None
    if not name:
        return None
    name = ALIASES.get(name.lower(), name)
    return f"{name} {words[1]}" if len(words) > 1 else name


def sender(message: Message) -> tuple[str, str]:
    """(user_id, user_name) of who sent the message (see the module docstring)."""
    user = message.from_user
    if message.sender_chat is not None or user is None:
        chat = message.sender_chat or message.chat
        return str(chat.id), chat.title or chat.username or ""
    return str(user.id), user.username or user.full_name


def command_from_message(message: Message, bot_username: str) -> Command | None:
    """The `Command` in a text message or channel post, or None to ignore it."""
    kind = chat_kind(message.chat)
    if kind is None or not message.text:
        return None
    text = command_text(message.text, bot_username=bot_username, private=kind == ChatKind.PRIVATE)
    if text is None:
        return None
    user_id, user_name = sender(message)
    return Command(
        platform=PLATFORM,
        chat_id=str(message.chat.id),
        user_id=user_id,
        user_name=user_name,
        chat_kind=kind,
        text=text,
    )


async def resolve_rule(ctx: HandlerContext, ref: str, destination: Destination) -> str:
    """The rule a button's reference names: a rule in force or one the chat follows."""
    names = [rule.name for rule in ctx.rulebook.rules]
    names += [sub.rule for sub in await ctx.store.subscriptions(destination)]
    return next((name for name in names if rule_ref_matches(ref, name)), ref)


async def resolve_story_key(ctx: HandlerContext, prefix: str) -> str:
    """The full key of the one stored story whose key starts with `prefix`; else
    `prefix` itself, which the "Not relevant" action then looks up as a whole key."""
    story = await ctx.store.find_story_by_key_prefix(prefix)
    return story.key if story is not None else prefix


async def click_from_callback(ctx: HandlerContext, query: CallbackQuery) -> ActionCommand:
    """The `ActionCommand` for a press on an alert's button; CommandError if it is not ours."""
    message = query.message
    if message is None:
        raise CommandError("this button is not under a message the bot can see")
    kind = chat_kind(message.chat)
    if kind is None or query.data is None:
        raise CommandError("this button is not one of newswatch's alert buttons")
    pressed = parse_telegram_callback(query.data)
    destination = Destination(PLATFORM, str(message.chat.id))
    action = ButtonAction(pressed.action)
    rule = await resolve_rule(ctx, pressed.rule_ref, destination) if pressed.rule_ref else ""
    story_key = ""
    if pressed.story_key:
        story_key = await resolve_story_key(ctx, pressed.story_key)
    user = query.from_user
    return ActionCommand(
        platform=PLATFORM,
        chat_id=destination.chat_id,
        user_id=str(user.id),
        user_name=user.username or user.full_name,
        chat_kind=kind,
        action=action,
        rule=rule,
        story_key=story_key,
        feedback_id=pressed.feedback_id,
    )
