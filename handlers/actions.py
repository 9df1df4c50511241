"""The buttons under an alert: "Mute rule 24 h", "Unsubscribe", "Not relevant".

A muted rule's alerts are held, not lost: they arrive as one digest when the
rule mute ends (`bot.pipeline.route`), as with the `mute` command.

Mute and unsubscribe change what the chat receives, so in groups and
channels they need a chat administrator or a bot admin, like the commands.
"Not relevant" is always recorded as `feedback` on the rule (audited with the
story); it becomes a negative example of the rule's topic when a bot admin
clicks it, so one member of one chat cannot reshape a rule everyone follows —
admins see the others in `rule history` and add them with `rule example add`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from bot.core.errors import CommandError, NotFoundError
from bot.core.model import ALL_RULES, Change, Story
from handlers.command import ActionCommand, ButtonAction, Reply
from handlers.context import HandlerContext
from handlers.permissions import require_chat_manager
from handlers.phrasing import utc_time
from handlers.rule_edits import rule_in_force, store_rule
from handlers.rule_history import FEEDBACK_KIND
from handlers.topic_commands import topic_of, with_example

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


def _example_text(story: Story) -> str:
    return " ".join(story.title.split())


async def not_relevant(ctx: HandlerContext, click: ActionCommand) -> Reply:
    """Record the story as not relevant to the rule (a negative example when an admin says so)."""
    rule = rule_in_force(ctx, click.rule)
    story = await ctx.store.get_story(click.story_key)
    if story is None:
        raise NotFoundError("that story is no longer stored, so it cannot be used as feedback")
    applied = ctx.is_admin(click)
    feedback = {"story_key": story.key, "title": story.title, "url": story.url, "applied": applied}
    change = Change(
        FEEDBACK_KIND, rule.name, "not_relevant", click.actor, ctx.clock(), None, feedback
    )
    await ctx.store.record_change(change)
    if not applied:
        return Reply(
            f"thanks — noted as not relevant to {rule.name} for the admins", replace_original=True
        )
    topic = with_example(topic_of(rule), "negative", _example_text(story))
    if topic != rule.topic:
        await store_rule(ctx, click, replace(rule, topic=topic))
    return Reply(f"noted: stories like this no longer count for {rule.name}", replace_original=True)


BUTTONS: dict[ButtonAction, Callable[[HandlerContext, ActionCommand], Awaitable[Reply]]] = {
    ButtonAction.MUTE: mute_rule,
    ButtonAction.UNSUBSCRIBE: unsubscribe_rule,
    ButtonAction.NOT_RELEVANT: not_relevant,
}


async def answer_button(ctx: HandlerContext, click: ActionCommand) -> Reply:
    """Run the clicked button's action."""
    answer = BUTTONS.get(click.action)
    if answer is None:
        known = ", ".join(action.value for action in ButtonAction)
        raise CommandError(f"unknown button action {click.action!r}; known: {known}")
    return await answer(ctx, click)
