"""`rule test`: how a rule or a query would have done on the stories stored lately.

    rule test drone_strike 14          the rule in force over 14 days
    rule test drone NEAR/3 strike      a query (default 7 days)
    rule test drone_strike <query> 7   what a new query would change

Only the query tier is replayed: the topic tier needs the semantic model,
which the chat service may not have, so a topic rule's figures are its
candidates. Nothing is saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.core.errors import RuleSyntaxError
from bot.core.model import Match, Rule, Story
from filters.rule_index import RuleIndex
from handlers.arguments import RULE_NAME, BadArgumentsError, split_first, take_days
from handlers.command import Command, Reply
from handlers.context import HandlerContext
from handlers.phrasing import shorten
from handlers.spec import CommandSpec

SAMPLE_SIZE = 5
STORY_LIMIT = 5000
TESTED_QUERY = "query"


@dataclass(frozen=True, slots=True)
class Backtest:
    """Which stored stories a query matches, with why."""

    stories: int
    matches: dict[str, tuple[Story, Match]]
    """Story key → (story, match), newest story first."""


def backtest(name: str, query: str, stories: Sequence[Story]) -> Backtest:
    """Run one query over the stories (RuleSyntaxError naming `name` if it does not parse)."""
    try:
        index = RuleIndex.build([Rule(name=name, query=query)])
    except RuleSyntaxError as exc:
        raise exc.with_rule(name) if name != TESTED_QUERY else exc from None
    found: dict[str, tuple[Story, Match]] = {}
    for story in stories:
        matches = index.match(story)
        if matches:
            found[story.key] = (story, matches[0])
    return Backtest(len(stories), found)


def sample_lines(found: Sequence[tuple[Story, Match]]) -> list[str]:
    """Up to SAMPLE_SIZE stories as `• title (publisher, date) — why`."""
    lines = []
    for story, match in found[:SAMPLE_SIZE]:
        when = story.published.strftime("%Y-%m-%d")
        title = shorten(story.title, 100)
        lines.append(f"• {title} ({story.publisher}, {when}) — {shorten(match.why, 120)}")
    return lines


async def _stories(ctx: HandlerContext, days: int) -> list[Story]:
    return await ctx.store.recent_stories(ctx.clock() - timedelta(days=days), limit=STORY_LIMIT)


def _single_reply(label: str, days: int, result: Backtest, topic_note: str) -> Reply:
    lines = [
        f"{label} over the last {days} days: {len(result.matches)} of {result.stories} "
        "stored stories match"
    ]
    lines += sample_lines(list(result.matches.values()))
    if topic_note:
        lines.append(topic_note)
    return Reply("\n".join(lines))


def _compare_reply(rule: Rule, days: int, old: Backtest, new: Backtest) -> Reply:
    gained = [found for key, found in new.matches.items() if key not in old.matches]
    lost = [found for key, found in old.matches.items() if key not in new.matches]
    lines = [
        f"rule {rule.name} over the last {days} days ({old.stories} stored stories): "
        f"{len(old.matches)} match now, {len(new.matches)} would match the new query",
        f"newly matched: {len(gained)}",
        *sample_lines(gained),
        f"no longer matched: {len(lost)}",
        *sample_lines(lost),
        f"nothing saved — apply it with `rule edit {rule.name} <query>`",
    ]
    return Reply("\n".join(lines))


async def test_rule(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """Backtest a rule, a query, or a rule against a new query."""
    target, days = take_days(args)
    if not target:
        raise BadArgumentsError("name a rule or write a query to test")
    first, rest = split_first(target)
    rule = ctx.rulebook.rule(first) if RULE_NAME.fullmatch(first) else None
    if rule is None:
        result = backtest(TESTED_QUERY, target, await _stories(ctx, days))
        return _single_reply("the query", days, result, "")
    stories = await _stories(ctx, days)
    current = backtest(rule.name, rule.query, stories)
    if rest:
        return _compare_reply(rule, days, current, backtest(rule.name, rest, stories))
    note = "(query tier only: the topic is not replayed here)" if rule.topic else ""
    return _single_reply(f"rule {rule.name}", days, current, note)


SPECS = (
    CommandSpec(
        "rule test",
        test_rule,
        "rule test <name|query> [days]  or  rule test <name> <new query> [days]",
        "rule test drone_strike 14",
        "replay a rule or query over stored stories (nothing is saved)",
        admin_only=True,
    ),
)
