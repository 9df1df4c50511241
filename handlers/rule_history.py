"""A rule's audit trail in chat: `rule history` and `rule undo` (admins).

Undo restores the version before the latest recorded change. When that change
was the first chat edit of a rule from the rules file (so nothing was stored
before it), the rules-file version is restored. Undo is itself a change, so a
second undo redoes.
"""

from __future__ import annotations

from bot.core.errors import NotFoundError
from bot.core.model import Change, Rule
from bot.store.codec import rule_from_dict
from filters.rules_file import load_rules
from handlers.arguments import BadArgumentsError, rule_name, split_first
from handlers.command import Command, Reply
from handlers.context import HandlerContext
from handlers.phrasing import shorten, utc_time
from handlers.rule_edits import store_rule
from handlers.spec import CommandSpec

RULE_KIND = "rule"
FEEDBACK_KIND = "feedback"
"""Clicks recorded in the audit trail before the `feedback` table (`rule feedback`)."""
HISTORY_LINES = 10


def changed_fields(change: Change) -> str:
    """What a rule change did, e.g. `added`, `removed`, `edit: query, topic`."""
    if change.kind == FEEDBACK_KIND:
        title = (change.after or {}).get("title", "?")
        return f"{change.action.replace('_', ' ')}: {shorten(str(title), 80)}"
    if change.before is None or change.after is None:
        return {"add": "added", "remove": "removed"}.get(change.action, change.action)
    before, after = change.before, change.after
    fields = [key for key in after if key != "name" and before.get(key) != after.get(key)]
    return f"{change.action}: {', '.join(fields) or 'no change'}"


def history_line(change: Change) -> str:
    """One audit entry: when, who, what."""
    return f"{utc_time(change.at)}  {change.actor}  {changed_fields(change)}"


async def show_history(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """The latest changes and feedback of one rule, newest first."""
    name = _one_name(args)
    changes = await ctx.store.history(RULE_KIND, name, limit=HISTORY_LINES)
    changes += await ctx.store.history(FEEDBACK_KIND, name, limit=HISTORY_LINES)
    clicks = sum((await ctx.store.feedback_counts(name)).values())
    hint = f"{clicks} feedback clicks: `rule feedback {name}`" if clicks else ""
    if not changes:
        none = f"rule {name} has no recorded changes (it is as the rules file says)"
        return Reply("\n".join(line for line in (none, hint) if line))
    changes.sort(key=lambda change: change.at, reverse=True)
    lines = [f"rule {name}, newest first:"]
    lines += [history_line(change) for change in changes[:HISTORY_LINES]]
    if hint:
        lines.append(hint)
    return Reply("\n".join(lines))


def _file_rule(ctx: HandlerContext, name: str) -> Rule | None:
    return next((r for r in load_rules(ctx.rulebook.rules_file) if r.name == name), None)


async def undo_rule(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Put back the rule as it was before its latest change."""
    name = _one_name(args)
    latest = await ctx.store.history(RULE_KIND, name, limit=1)
    if not latest:
        raise NotFoundError(f"rule {name!r} has no recorded change to undo")
    last = latest[0]
    previous = rule_from_dict(last.before) if last.before else _file_rule(ctx, name)
    undone = f"{last.actor}'s {last.action} of {utc_time(last.at)}"
    if previous is None:
        await ctx.store.delete_rule(name, actor=command.actor, at=ctx.clock())
        await ctx.rules_changed()
        return Reply(f"undid {undone}: rule {name} did not exist before, so it is removed")
    await store_rule(ctx, command, previous)
    return Reply(f"undid {undone}: rule {name} is back as it was", code=previous.query)


def _one_name(args: str) -> str:
    word, rest = split_first(args)
    if rest:
        raise BadArgumentsError("name one rule")
    return rule_name(word)


SPECS = (
    CommandSpec(
        "rule history",
        show_history,
        "rule history <name>",
        "rule history drone_strike",
        "who changed a rule, when and what",
        admin_only=True,
    ),
    CommandSpec(
        "rule undo",
        undo_rule,
        "rule undo <name>",
        "rule undo drone_strike",
        "put a rule back as it was before its latest change",
        admin_only=True,
    ),
)
