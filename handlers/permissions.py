"""Who may do what: bot admins, and who manages a chat's subscriptions."""

from __future__ import annotations

from bot.core.errors import NotAuthorizedError
from handlers.command import ChatKind, ChatOrigin
from handlers.context import HandlerContext


def require_admin(ctx: HandlerContext, origin: ChatOrigin, what: str) -> None:
    """NotAuthorizedError unless the user is a configured admin on that platform."""
    if not ctx.is_admin(origin):
        raise NotAuthorizedError(
            f"`{what}` is for the bot's admins only; you are not one, so nothing was changed"
        )


async def require_chat_manager(ctx: HandlerContext, origin: ChatOrigin) -> None:
    """In a group or channel, only its administrators or the bot's admins change
    what the chat receives, unless the platform lets every member do it
    (`members_manage_chats`: Slack channels by default); in a private chat
    everyone manages their own."""
    if origin.chat_kind == ChatKind.PRIVATE or ctx.is_admin(origin):
        return
    if ctx.members_manage_chats:
        return
    if await ctx.chat_admin_check.is_chat_admin(origin.chat_id, origin.user_id):
        return
    raise NotAuthorizedError(
        f"only this {origin.chat_kind}'s administrators can change what it receives; "
        "nothing was changed"
    )
