"""Finding, checking and saving rules: the steps every rule-changing command shares."""

from __future__ import annotations

from bot.core.errors import RuleSyntaxError, UnknownRuleError
from bot.core.model import Rule
from filters.query import parse_query
from handlers.arguments import BadArgumentsError, rule_name
from handlers.command import ChatOrigin
from handlers.context import HandlerContext


def rule_in_force(ctx: HandlerContext, name: str) -> Rule:
    """The rule of that name among the rules in force, or UnknownRuleError."""
    rule = ctx.rulebook.rule(rule_name(name))
    if rule is None:
        raise UnknownRuleError(f"no rule named {name!r} — `rules` lists the names")
    return rule


def checked_query(name: str, query: str) -> str:
    """The query if it parses; RuleSyntaxError naming the rule and column otherwise."""
    if not query.strip():
        raise BadArgumentsError("the query is missing")
    try:
        parse_query(query)
    except RuleSyntaxError as exc:
        raise exc.with_rule(name) from None
    return query.strip()


async def store_rule(ctx: HandlerContext, origin: ChatOrigin, rule: Rule) -> None:
    """Save the rule (the store audits before and after) and recompile the rules in force."""
    await ctx.store.save_rule(rule, actor=origin.actor, at=ctx.clock())
    await ctx.rules_changed()
