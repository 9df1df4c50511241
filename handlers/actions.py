"""The buttons under an alert: "Mute rule 24 h", "Unsubscribe", "Not relevant",
"More like this"; and "Apply" / "Skip" under a proposed feedback change.

A muted rule's alerts are held, not lost: they arrive as one digest when the
rule mute ends (`bot.pipeline.route`), as with the `mute` command.

Mute and unsubscribe change what the chat receives, so in groups and
channels they need a chat administrator or a bot admin, like the commands.
The feedback buttons are `handlers.feedback`: always recorded, and a change
to the rule only where it has a topic, an admin clicked and a backtest shows
what it would do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.core.errors import CommandError
from bot.core.model import ALL_RULES
from handlers.command import ActionCommand, ButtonAction, Reply
from handlers.context import HandlerContext
from handlers.feedback import decide_change, feedback_click
from handlers.permissions import require_chat_manager
from handlers.phrasing import utc_time

RULE_MUTE = timedelta(hours=24)


async def mute_rule(ctx: HandlerContext, click: ActionCommand) -> Reply:
    """Mute the alert's rule in this chat for 24 hours."""
    await require_chat_manager(ctx, click)
    until = ctx.clock() + RULE_MUTE
    await ctx.store.mute_rule(click.destination, click.rule, until)
    return Reply(
        f"{click.user_name or click.user_id} muted {click.rule} here until {utc_time(until)}; "
        "its alerts meanwhile arrive as one digest then",
        replace_original=True,
    )


async def unsubscribe_rule(ctx: HandlerContext, click: ActionCommand) -> Reply:
    """Unsubscribe this chat from the alert's rule."""
    await require_chat_manager(ctx, click)
    removed = await ctx.store.unsubscribe(click.destination, [click.rule])
    if removed:
        who = click.user_name or click.user_id
        return Reply(f"{who} unsubscribed this chat from {click.rule}", replace_original=True)
    subs = await ctx.store.subscriptions(click.destination)
    if any(sub.rule == ALL_RULES for sub in subs):
        return Reply(
            f"this chat gets every rule (subscribe all); mute {click.rule} instead, or "
            "`unsubscribe all` and subscribe to the rules you want",
            ok=False,
            ephemeral=True,
        )
    return Reply(f"this chat is no longer subscribed to {click.rule}", replace_original=True)


BUTTONS: dict[ButtonAction, Callable[[HandlerContext, ActionCommand], Awaitable[Reply]]] = {
    ButtonAction.MUTE: mute_rule,
    ButtonAction.UNSUBSCRIBE: unsubscribe_rule,
    ButtonAction.NOT_RELEVANT: feedback_click,
    ButtonAction.MORE_LIKE_THIS: feedback_click,
    ButtonAction.APPLY_FEEDBACK: decide_change,
    ButtonAction.SKIP_FEEDBACK: decide_change,
}


async def answer_button(ctx: HandlerContext, click: ActionCommand) -> Reply:
    """Run the clicked button's action."""
    answer = BUTTONS.get(click.action)
    if answer is None:
        known = ", ".join(action.value for action in ButtonAction)
        raise CommandError(f"unknown button action {click.action!r}; known: {known}")
    return await answer(ctx, click)
