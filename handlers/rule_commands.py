"""Rule commands: `rules` for everyone; `rule add|edit|rm|show|urgent` for admins."""

from __future__ import annotations

from dataclasses import replace

from bot.core.errors import DuplicateError
from bot.core.model import Rule
from handlers.arguments import BadArgumentsError, rule_name, split_description, split_first
from handlers.command import Command, Reply
from handlers.context import HandlerContext
from handlers.phrasing import counted, shorten
from handlers.rule_edits import checked_query, rule_in_force, store_rule
from handlers.spec import CommandSpec

LIST_DESCRIPTION_LIMIT = 140


def _markers(ctx: HandlerContext, rule: Rule) -> str:
    marks = []
    if rule.topic is not None:
        marks.append("topic" if ctx.topics_active else "topic, inactive")
    if rule.urgent:
        marks.append("urgent")
    if not rule.enabled:
        marks.append("disabled")
    if any(error.rule == rule.name for error in ctx.rulebook.errors):
        marks.append("BROKEN: see rule show")
    return f" [{', '.join(marks)}]" if marks else ""


async def list_rules(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """The rules in force with their descriptions; topic rules marked."""
    rules = ctx.rulebook.rules
    if not rules:
        return Reply("there are no rules yet — an admin adds one with `rule add`")
    lines = [f"{len(rules)} rules:"]
    for rule in rules:
        description = shorten(rule.description, LIST_DESCRIPTION_LIMIT) or "(no description)"
        lines.append(f"• {rule.name}{_markers(ctx, rule)} — {description}")
    if not ctx.topics_active and any(rule.topic for rule in rules):
        lines.append(
            "topic rules are inactive here (the semantic tier is not installed); "
            "their queries still match"
        )
    lines.append("subscribe with: subscribe <rule…|all>")
    return Reply("\n".join(lines))


async def add_rule(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Add a new rule: `rule add <name> <query> [-- description]`."""
    word, rest = split_first(args)
    name = rule_name(word)
    if ctx.rulebook.rule(name) is not None:
        raise DuplicateError(f"rule {name!r} already exists — change it with `rule edit {name}`")
    query, description = split_description(rest)
    rule = Rule(name=name, query=checked_query(name, query), description=description or "")
    await store_rule(ctx, command, rule)
    return Reply(f"added rule {name}; subscribe with `subscribe {name}`", code=rule.query)


async def edit_rule(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Change a rule's query and/or description; its topic and state stay."""
    word, rest = split_first(args)
    current = rule_in_force(ctx, word)
    query, description = split_description(rest)
    if not query and description is None:
        raise BadArgumentsError("give the new query, or `-- description` to change only that")
    rule = replace(
        current,
        query=checked_query(current.name, query) if query else current.query,
        description=current.description if description is None else description,
    )
    if rule == current:
        return Reply(f"rule {current.name} already reads like that; nothing changed")
    await store_rule(ctx, command, rule)
    return Reply(f"changed rule {rule.name} (undo with `rule undo {rule.name}`)", code=rule.query)


async def remove_rule(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Remove a rule (also one from the rules file); subscriptions to it are kept for undo."""
    word, rest = split_first(args)
    if rest:
        raise BadArgumentsError("remove one rule at a time")
    rule = rule_in_force(ctx, word)
    await ctx.store.delete_rule(rule.name, actor=command.actor, at=ctx.clock())
    await ctx.rules_changed()
    subscribed = [s for s in await ctx.store.subscriptions() if s.rule == rule.name]
    kept = f"; {counted(len(subscribed), 'subscription')} to it kept for undo" if subscribed else ""
    return Reply(f"removed rule {rule.name}{kept} (undo with `rule undo {rule.name}`)")


async def show_rule(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Everything about one rule: description, source, state, topic, subscribers."""
    rule = rule_in_force(ctx, args.strip())
    edited = {stored.name for stored in await ctx.store.list_rules()}
    subscribed = [s for s in await ctx.store.subscriptions() if s.rule == rule.name]
    lines = [
        f"rule {rule.name}{_markers(ctx, rule)}",
        f"description: {rule.description or '(none)'}",
        f"from: {'edited in chat' if rule.name in edited else 'the rules file'}",
        f"subscribed chats: {len(subscribed)}",
    ]
    lines += [f"not active: {error}" for error in ctx.rulebook.errors if error.rule == rule.name]
    lines += topic_lines(rule)
    return Reply("\n".join(lines), code=rule.query)


URGENT_WORDS = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}


async def set_urgent(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Make every alert of a rule urgent (skips quiet hours and digests), or not."""
    word, rest = split_first(args)
    name = rule_name(word)
    if rest.lower() not in URGENT_WORDS:
        raise BadArgumentsError(f"say on or off after the rule name, not {rest!r}")
    rule = rule_in_force(ctx, name)
    urgent = URGENT_WORDS[rest.lower()]
    if rule.urgent != urgent:
        await store_rule(ctx, command, replace(rule, urgent=urgent))
    if urgent:
        return Reply(f"{name} is urgent: its alerts skip quiet hours and digests, marked urgent")
    return Reply(f"{name} is no longer urgent: its alerts follow each chat's schedule")


def topic_lines(rule: Rule) -> list[str]:
    """The topic of a rule, examples numbered as `rule example rm` takes them."""
    topic = rule.topic
    if topic is None:
        return ["topic: none (add one with `rule intent <name> <text>`)"]
    lines = [f"topic intent: {topic.intent}", f"topic threshold: {topic.threshold:g}"]
    lines += [f"positive {n}: {text}" for n, text in enumerate(topic.positives, start=1)]
    lines += [f"negative {n}: {text}" for n, text in enumerate(topic.negatives, start=1)]
    return lines


SPECS = (
    CommandSpec("rules", list_rules, "rules", "rules", "list the rules you can subscribe to"),
    CommandSpec(
        "rule add",
        add_rule,
        "rule add <name> <query> [-- description]",
        "rule add ukraine_aid aid NEAR/5 ukraine -- New aid for Ukraine",
        "add a rule",
        admin_only=True,
    ),
    CommandSpec(
        "rule edit",
        edit_rule,
        "rule edit <name> <query> [-- description]",
        'rule edit ukraine_aid (aid OR "military package") NEAR/5 ukraine',
        "change a rule's query or description",
        admin_only=True,
    ),
    CommandSpec(
        "rule rm",
        remove_rule,
        "rule rm <name>",
        "rule rm ukraine_aid",
        "remove a rule",
        admin_only=True,
    ),
    CommandSpec(
        "rule show",
        show_rule,
        "rule show <name>",
        "rule show drone_strike",
        "show a rule's query, topic and subscribers",
        admin_only=True,
    ),
    CommandSpec(
        "rule urgent",
        set_urgent,
        "rule urgent <name> on|off",
        "rule urgent drone_strike on",
        "make a rule's alerts urgent: they skip quiet hours and digests",
        admin_only=True,
    ),
)
