"""`quiet`: the chat's quiet hours, when alerts wait and arrive as one digest at the end.

    quiet 22:00-07:00 Europe/Kyiv     set them (the zone defaults to UTC)
    quiet off                         end them (what they held comes at once)
    quiet                             show them

Urgent alerts still come at once. Changing quiet hours follows the same
permission rules as subscribing (`handlers.permissions.require_chat_manager`).
"""

from __future__ import annotations

from bot.core.schedules import QuietHours
from handlers.arguments import BadArgumentsError
from handlers.command import Command, Reply
from handlers.context import HandlerContext
from handlers.permissions import require_chat_manager
from handlers.spec import CommandSpec
from handlers.subscribing import audit_subscription

OFF_WORDS = ("off", "none", "stop")


async def quiet(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Show, set or end this chat's quiet hours."""
    text = args.strip()
    subs = await ctx.store.subscriptions(command.destination)
    if not text:
        current = subs[0].quiet_hours if subs else None
        if current is None:
            return Reply("no quiet hours here; set them with e.g. `quiet 22:00-07:00 Europe/Kyiv`")
        return Reply(f"quiet hours: {current}; alerts in them arrive as one digest at the end")
    off = text.lower() in OFF_WORDS
    hours = None
    if not off:
        try:
            hours = QuietHours.parse(text)
        except ValueError as err:
            raise BadArgumentsError(str(err)) from None
    await require_chat_manager(ctx, command)
    if not subs:
        return Reply(
            "this chat has no subscriptions: subscribe first, then set quiet hours", ok=False
        )
    await ctx.store.set_quiet_hours(command.destination, None if hours is None else str(hours))
    await audit_subscription(ctx, command, "quiet", {"quiet_hours": str(hours) if hours else None})
    if hours is None:
        return Reply("quiet hours off: alerts arrive as they come; what waited comes now")
    return Reply(
        f"quiet hours set: {hours}. Alerts in them wait and arrive as one digest at the end; "
        "urgent alerts still come at once"
    )


SPECS = (
    CommandSpec(
        "quiet",
        quiet,
        "quiet [HH:MM-HH:MM [Zone] | off]",
        "quiet 22:00-07:00 Europe/Kyiv",
        "hold this chat's alerts at night for one digest when the quiet hours end",
    ),
)
