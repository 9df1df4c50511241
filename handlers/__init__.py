"""Chat commands, platform-neutral: a `Command` in, a `Reply` out.

    reply = await dispatch(ctx, Command(platform="telegram", chat_id="42", user_id="7",
                                        user_name="ana", chat_kind=ChatKind.PRIVATE,
                                        text="subscribe drone_strike"))

Nothing in this package imports a platform library; the adapters in
bot/platforms/ translate messages and button clicks in and render replies out.
"""

from handlers.command import (
    ActionCommand,
    ButtonAction,
    ChatAdminCheck,
    ChatKind,
    ChatOrigin,
    Command,
    Reply,
    ReplyButton,
)
from handlers.context import HandlerContext
from handlers.dispatch import COMMANDS, dispatch

__all__ = [
    "COMMANDS",
    "ActionCommand",
    "ButtonAction",
    "ChatAdminCheck",
    "ChatKind",
    "ChatOrigin",
    "Command",
    "HandlerContext",
    "Reply",
    "ReplyButton",
    "dispatch",
]
