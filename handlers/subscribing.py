"""Commands that decide what a chat receives: subscribe, unsubscribe,
subscriptions, mute and unmute.

Each change is audited as a `subscription` Change named after the chat, so
admins can see who subscribed a group to what.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.errors import UnknownRuleError
from bot.core.model import ALL_RULES, Change, Subscription
from handlers.arguments import BadArgumentsError, parse_duration, rule_name
from handlers.command import ChatOrigin, Command, Reply
from handlers.context import HandlerContext
from handlers.permissions import require_chat_manager
from handlers.phrasing import duration_words, rule_label, rule_labels, utc_time
from handlers.spec import CommandSpec

SUBSCRIPTION_KIND = "subscription"


def requested_rules(args: str) -> list[str]:
    """The rule names in `args` (`all` or `*` meaning every rule), checked for spelling."""
    words = args.split()
    if not words:
        raise BadArgumentsError("name at least one rule, or all")
    return [ALL_RULES if word.lower() in ("all", ALL_RULES) else rule_name(word) for word in words]


async def audit_subscription(
    ctx: HandlerContext, origin: ChatOrigin, action: str, after: dict[str, Any]
) -> None:
    """Record a change to what this chat receives."""
    change = Change(
        kind=SUBSCRIPTION_KIND,
        name=str(origin.destination),
        action=action,
        actor=origin.actor,
        at=ctx.clock(),
        after=after,
    )
    await ctx.store.record_change(change)


async def subscribe(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Subscribe the chat to rules in force (or all), after checking every name."""
    names = requested_rules(args)
    known = {rule.name for rule in ctx.rulebook.rules}
    unknown = [name for name in names if name != ALL_RULES and name not in known]
    if unknown:
        raise UnknownRuleError(
            f"no rule named {', '.join(unknown)} — `rules` lists the names; nothing was changed"
        )
    await require_chat_manager(ctx, command)
    added = await ctx.store.subscribe(command.destination, names, actor=command.actor)
    if added:
        await audit_subscription(ctx, command, "subscribe", {"rules": added})
    lines = [f"subscribed to: {rule_labels(added)}"] if added else []
    already = [name for name in names if name not in added]
    if already:
        lines.append(f"already subscribed to: {rule_labels(already)}")
    return Reply("\n".join(lines))


async def unsubscribe(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Remove the chat's subscriptions to the named rules (or all of them)."""
    names = requested_rules(args)
    await require_chat_manager(ctx, command)
    removed = await ctx.store.unsubscribe(command.destination, names)
    if removed:
        await audit_subscription(ctx, command, "unsubscribe", {"rules": removed})
    lines = [f"unsubscribed from: {rule_labels(removed)}"] if removed else []
    missing = [name for name in names if name != ALL_RULES and name not in removed]
    if missing:
        lines.append(f"not subscribed to: {rule_labels(missing)}")
    remaining = await ctx.store.subscriptions(command.destination)
    if missing and any(sub.rule == ALL_RULES for sub in remaining):
        lines.append(
            "this chat gets every rule (subscribe all): `unsubscribe all`, then subscribe "
            "to the rules you want"
        )
    return Reply("\n".join(lines) or "this chat had no subscriptions")


async def list_subscriptions(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """What this chat receives, and whether it is muted or paused."""
    subs = await ctx.store.subscriptions(command.destination)
    if not subs:
        return Reply("this chat has no subscriptions — try `subscribe all` or see `rules`")
    now = ctx.clock()
    lines = [f"subscribed to: {rule_labels(sub.rule for sub in subs)}"]
    lines += _state_lines(subs, now)
    muted = await ctx.store.muted_rules(command.destination, now)
    lines += [f"rule {rule} muted until {utc_time(until)}" for rule, until in muted.items()]
    return Reply("\n".join(lines))


def _state_lines(subs: Sequence[Subscription], now: datetime) -> list[str]:
    first = subs[0]
    lines = []
    if first.muted_until is not None and first.muted_until > now:
        lines.append(f"muted until {utc_time(first.muted_until)} (`unmute` to resume)")
    if first.paused_reason:
        lines.append(f"paused: {first.paused_reason}")
    return lines


async def mute(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Hold every alert for this chat for a while (`mute 2h`)."""
    length = parse_duration(args)
    await require_chat_manager(ctx, command)
    if not await ctx.store.subscriptions(command.destination):
        return Reply("this chat has no subscriptions, so there is nothing to mute", ok=False)
    until = ctx.clock() + length
    await ctx.store.mute(command.destination, until)
    await audit_subscription(ctx, command, "mute", {"until": utc_time(until)})
    return Reply(f"muted for {duration_words(length)}, until {utc_time(until)}")


async def unmute(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Lift this chat's mute and every per-rule mute."""
    if args.strip():
        raise BadArgumentsError("unmute takes no arguments")
    await require_chat_manager(ctx, command)
    destination = command.destination
    await ctx.store.mute(destination, None)
    rules = await ctx.store.muted_rules(destination, ctx.clock())
    for rule in rules:
        await ctx.store.mute_rule(destination, rule, None)
    await audit_subscription(ctx, command, "unmute", {"rules": sorted(rules)})
    also = f" (and rules {', '.join(rule_label(r) for r in rules)})" if rules else ""
    return Reply(f"unmuted{also}: alerts arrive again")


SPECS = (
    CommandSpec(
        "subscribe",
        subscribe,
        "subscribe <rule…|all>",
        "subscribe drone_strike aid_package",
        "get alerts for these rules in this chat",
    ),
    CommandSpec(
        "unsubscribe",
        unsubscribe,
        "unsubscribe <rule…|all>",
        "unsubscribe aid_package",
        "stop alerts for these rules in this chat",
    ),
    CommandSpec(
        "subscriptions",
        list_subscriptions,
        "subscriptions",
        "subscriptions",
        "what this chat receives, and whether it is muted",
    ),
    CommandSpec(
        "mute", mute, "mute <duration>", "mute 2h", "hold this chat's alerts (30m, 2h, 1d, 1w)"
    ),
    CommandSpec("unmute", unmute, "unmute", "unmute", "resume this chat's alerts"),
)
