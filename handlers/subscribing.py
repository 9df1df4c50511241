"""Commands that decide what a chat receives: subscribe (as alerts come, or as an
hourly or daily digest), unsubscribe, subscriptions, mute (holding alerts for a
digest at its end, or dropping them) and unmute.

Each change is audited as a `subscription` Change named after the chat, so
admins can see who subscribed a group to what.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.errors import UnknownRuleError
from bot.core.model import ALL_RULES, Change, Destination, Hold, Subscription
from bot.core.schedules import DEFAULT_ZONE, DigestSchedule, QuietHours
from handlers.arguments import BadArgumentsError, parse_duration, rule_name
from handlers.command import ChatOrigin, Command, Reply
from handlers.context import HandlerContext
from handlers.permissions import require_chat_manager
from handlers.phrasing import counted, duration_words, rule_label, rule_labels, utc_time
from handlers.spec import CommandSpec

SUBSCRIPTION_KIND = "subscription"
SCHEDULE_WORDS = ("hourly", "daily")
DISCARD = "discard"


def requested_rules(args: str) -> list[str]:
    """The rule names in `args` (`all` or `*` meaning every rule), checked for spelling."""
    words = args.split()
    if not words:
        raise BadArgumentsError("name at least one rule, or all")
    return [ALL_RULES if word.lower() in ("all", ALL_RULES) else rule_name(word) for word in words]


def split_schedule(args: str) -> tuple[str, str]:
    """`aid_package daily 08:00 Europe/Kyiv` → (`aid_package`, `daily 08:00 Europe/Kyiv`)."""
    words = args.split()
    for position, word in enumerate(words):
        if word.lower() in SCHEDULE_WORDS:
            return " ".join(words[:position]), " ".join(words[position:])
    return args, ""


async def chat_zone(ctx: HandlerContext, destination: Destination) -> str:
    """The chat's time zone: that of its quiet hours, else UTC."""
    for sub in await ctx.store.subscriptions(destination):
        if sub.quiet_hours:
            try:
                return QuietHours.parse(sub.quiet_hours).zone
            except ValueError:
                break
    return DEFAULT_ZONE


async def parse_schedule(ctx: HandlerContext, destination: Destination, text: str) -> str | None:
    """The digest schedule in `text` as stored (None for alerts as they come)."""
    if not text:
        return None
    try:
        zone = await chat_zone(ctx, destination)
        return str(DigestSchedule.parse(text, default_zone=zone))
    except ValueError as err:
        raise BadArgumentsError(str(err)) from None


def schedule_words(schedule: str | None) -> str:
    """`as alerts come`, `an hourly digest`, `a daily digest at 08:00 Europe/Kyiv`."""
    if schedule is None:
        return "as alerts come"
    words = schedule.split()
    if words[0] == "hourly":
        return "an hourly digest" + (f" ({words[1]})" if len(words) > 1 else "")
    return f"a daily digest at {' '.join(words[1:])}"


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
    """Subscribe the chat to rules in force (or all), as alerts come or as a digest,
    after checking every name and the schedule."""
    rule_words, schedule_text = split_schedule(args)
    names = requested_rules(rule_words)
    known = {rule.name for rule in ctx.rulebook.rules}
    unknown = [name for name in names if name != ALL_RULES and name not in known]
    if unknown:
        raise UnknownRuleError(
            f"no rule named {', '.join(unknown)} — `rules` lists the names; nothing was changed"
        )
    schedule = await parse_schedule(ctx, command.destination, schedule_text)
    await require_chat_manager(ctx, command)
    before = {sub.rule: sub.digest for sub in await ctx.store.subscriptions(command.destination)}
    added = await ctx.store.subscribe(
        command.destination, names, actor=command.actor, digest=schedule
    )
    how = f" ({schedule_words(schedule)})" if schedule else ""
    changed = [n for n in names if n not in added and before.get(n, schedule) != schedule]
    if added or changed:
        digest = {"digest": schedule} if schedule or changed else {}
        await audit_subscription(ctx, command, "subscribe", {"rules": added + changed, **digest})
    lines = [f"subscribed to: {rule_labels(added)}{how}"] if added else []
    if changed:
        lines.append(f"{rule_labels(changed)}: now {schedule_words(schedule)}")
    already = [name for name in names if name not in added and name not in changed]
    if already:
        lines.append(f"already subscribed to: {rule_labels(already)}{how}")
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
    instant = [sub.rule for sub in subs if sub.digest is None]
    lines = [f"subscribed to: {rule_labels(instant)}"] if instant else []
    lines += [
        f"subscribed to {rule_label(sub.rule)} as {schedule_words(sub.digest)}"
        for sub in subs
        if sub.digest is not None
    ]
    lines += _state_lines(subs, now)
    muted = await ctx.store.muted_rules(command.destination, now)
    lines += [f"rule {rule} muted until {utc_time(until)}" for rule, until in muted.items()]
    for held in await ctx.store.held_summary(command.destination):
        lines.append(
            f"{counted(held.count, 'alert')} {_HELD_WORDS[held.hold]}, "
            f"next out at {utc_time(held.release_at)}"
        )
    return Reply("\n".join(lines))


_HELD_WORDS = {
    Hold.MUTE: "held by a mute",
    Hold.QUIET: "waiting for the end of quiet hours",
    Hold.DIGEST: "waiting for a digest",
}


def _state_lines(subs: Sequence[Subscription], now: datetime) -> list[str]:
    first = subs[0]
    lines = []
    if first.muted_until is not None and first.muted_until > now:
        how = "alerts are dropped" if first.mute_discards else "alerts wait for a digest"
        lines.append(f"muted until {utc_time(first.muted_until)}, {how} (`unmute` to resume)")
    if first.quiet_hours:
        lines.append(f"quiet hours: {first.quiet_hours} (`quiet off` to end them)")
    if first.paused_reason:
        lines.append(f"paused: {first.paused_reason}")
    return lines


async def mute(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Hold every alert for this chat for a while and deliver them as one digest when
    the mute ends (`mute 2h`), or drop them on purpose (`mute 2h discard`)."""
    words = args.split()
    discard = bool(words) and words[-1].lower() == DISCARD
    length = parse_duration(" ".join(words[:-1] if discard else words))
    await require_chat_manager(ctx, command)
    if not await ctx.store.subscriptions(command.destination):
        return Reply("this chat has no subscriptions, so there is nothing to mute", ok=False)
    until = ctx.clock() + length
    await ctx.store.mute(command.destination, until, discard=discard)
    await audit_subscription(ctx, command, "mute", {"until": utc_time(until), "discard": discard})
    then = (
        "alerts meanwhile are dropped"
        if discard
        else "alerts meanwhile wait and arrive as one digest then "
        f"(`mute {duration_words(length).replace(' ', '')} discard` drops them instead)"
    )
    return Reply(f"muted for {duration_words(length)}, until {utc_time(until)}; {then}")


async def unmute(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Lift this chat's mute and every per-rule mute."""
    if args.strip():
        raise BadArgumentsError("unmute takes no arguments")
    await require_chat_manager(ctx, command)
    destination = command.destination
    held = sum(h.count for h in await ctx.store.held_summary(destination) if h.hold is Hold.MUTE)
    rules = await ctx.store.muted_rules(destination, ctx.clock())
    for rule in rules:
        await ctx.store.mute_rule(destination, rule, None)
    await ctx.store.mute(destination, None)
    await audit_subscription(ctx, command, "unmute", {"rules": sorted(rules)})
    also = f" (and rules {', '.join(rule_label(r) for r in rules)})" if rules else ""
    digest = f"; the {counted(held, 'alert')} it held come now as one digest" if held else ""
    return Reply(f"unmuted{also}: alerts arrive again{digest}")


SPECS = (
    CommandSpec(
        "subscribe",
        subscribe,
        "subscribe <rule…|all> [hourly | daily HH:MM [Zone]]",
        "subscribe drone_strike aid_package",
        "get alerts for these rules in this chat, as they come or as a digest "
        "(subscribe aid_package daily 08:00 Europe/Kyiv)",
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
        "mute",
        mute,
        "mute <duration> [discard]",
        "mute 2h",
        "hold this chat's alerts (30m, 2h, 1d, 1w) for one digest at the end; `discard` drops them",
    ),
    CommandSpec("unmute", unmute, "unmute", "unmute", "resume this chat's alerts"),
)
