"""What a chat sends in and what goes back out, with no platform types.

The platform adapters (bot/platforms/) turn a Telegram message, a Slack slash
command or a button click into a `Command` or an `ActionCommand`, call
`handlers.dispatch.dispatch`, and render the `Reply`, escaping its text for
the platform. Nothing here knows which platform it is talking to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.core.model import Destination


class ChatKind(StrEnum):
    """Where a command was typed: it decides who may change the chat's subscriptions."""

    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"


class ButtonAction(StrEnum):
    """The buttons under an alert, and under a proposed feedback change."""

    MUTE = "mute"
    UNSUBSCRIBE = "unsubscribe"
    NOT_RELEVANT = "not_relevant"
    MORE_LIKE_THIS = "more_like_this"
    APPLY_FEEDBACK = "apply_feedback"
    SKIP_FEEDBACK = "skip_feedback"


@dataclass(frozen=True, slots=True)
class ChatOrigin:
    """Who acted, in which chat, on which platform."""

    platform: str
    """A `bot.core.model.Platform` value: `telegram`, `slack` or `console`."""
    chat_id: str
    user_id: str
    user_name: str
    chat_kind: ChatKind

    @property
    def destination(self) -> Destination:
        """The chat as an alert destination."""
        return Destination(platform=self.platform, chat_id=self.chat_id)

    @property
    def actor(self) -> str:
        """How the audit trail names this user: `platform:user_id (name)`."""
        name = f" ({self.user_name})" if self.user_name else ""
        return f"{self.platform}:{self.user_id}{name}"


@dataclass(frozen=True, slots=True)
class Command(ChatOrigin):
    """A typed command: `text` is everything after the bot command, starting
    with the command word, e.g. `subscribe drone_strike aid_package` or
    `rule add ukraine_aid aid NEAR/5 ukraine -- New aid for Ukraine`."""

    text: str


@dataclass(frozen=True, slots=True)
class ActionCommand(ChatOrigin):
    """A click on one of an alert's buttons, about one rule and one story."""

    action: ButtonAction
    rule: str
    story_key: str
    feedback_id: int = 0
    """For the apply/skip buttons under a proposed change: the feedback it came from."""


@dataclass(frozen=True, slots=True)
class ReplyButton:
    """A button under a reply (apply or skip a proposed feedback change)."""

    label: str
    action: ButtonAction
    feedback_id: int


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to show. `text` is plain text (may hold newlines); the adapter escapes it."""

    text: str
    ok: bool = True
    code: str = ""
    """A preformatted block shown monospaced after `text` (e.g. a query with a
    caret under the column of a syntax error); empty for none."""
    ephemeral: bool = False
    """Show only to the user who asked (Slack ephemeral message; Telegram: a reply)."""
    replace_original: bool = False
    """For button clicks: replace the alert's buttons with this text, in place."""
    buttons: tuple[ReplyButton, ...] = ()
    """Buttons to show under this reply, which is then posted as a message of its
    own (for a click: beside the alert, which keeps its buttons)."""


class ChatAdminCheck(Protocol):
    """Asks the platform whether a user administers a chat.

    Telegram adapters ask getChatMember; Slack has no per-channel admins the
    bot can see, so its adapter answers False: there any member manages a
    channel's subscriptions (`HandlerContext.members_manage_chats`), or, with
    NEWSWATCH_CHANNEL_SUBSCRIBE=admins, only configured admins.
    """

    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool: ...
