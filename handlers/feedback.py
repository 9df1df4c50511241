"""Feedback that never breaks a rule: "Not relevant" and "More like this".

Every click is recorded (`rule feedback <name>` lists them for admins). A
click changes a rule only when all of these hold:

- a bot admin clicked it (a member's click is noted for the admins, so one
  member of one chat cannot reshape a rule everyone follows);
- the rule already has a topic with positive examples: a rule without one
  never gets a topic from a click (a topic of an intent alone vetoes most of
  its query's true matches), and its query is what to sharpen instead;
- the semantic tier is loaded here, so the change can be backtested.

Then the story's title would become a negative ("Not relevant") or positive
("More like this") example. The change is first replayed over the stories
stored in the last 30 days (`handlers.feedback_backtest`). When it changes no
more than a small share of the rule's past matches besides the clicked story,
it is applied at once (undo with `rule undo`); otherwise the admin is shown
what would stop or start matching, with buttons to apply or skip it, and
nothing changes until one is pressed. Each reply says what happened.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from bot.core.errors import NotFoundError, UnknownRuleError
from bot.core.model import Feedback, Rule, Story, Topic
from handlers.arguments import BadArgumentsError, rule_name, split_first
from handlers.command import ActionCommand, ButtonAction, Command, Reply, ReplyButton
from handlers.context import HandlerContext
from handlers.feedback_backtest import TopicBacktest, backtest_topic_change
from handlers.permissions import require_admin
from handlers.phrasing import counted, shorten, utc_time
from handlers.rule_edits import rule_in_force, store_rule
from handlers.spec import CommandSpec
from handlers.topic_commands import with_example

SMALL_SHARE = 0.1
"""A change that alters more than this share of the rule's past matches (besides the
clicked story) waits for an admin's decision."""
SAMPLES = 5
LIST_LIMIT = 15


class Outcome(StrEnum):
    """What came of a click (stored with it)."""

    NOTED = "noted"
    NO_TOPIC = "no_topic"
    NO_SEMANTIC = "no_semantic"
    UNCHANGED = "unchanged"
    APPLIED = "applied"
    PROPOSED = "proposed"
    SKIPPED = "skipped"
    STORY_GONE = "story_gone"


KIND_WORDS: dict[str, str] = {
    ButtonAction.NOT_RELEVANT: "not relevant",
    ButtonAction.MORE_LIKE_THIS: "more like this",
}
EXAMPLE_KIND: dict[str, str] = {
    ButtonAction.NOT_RELEVANT: "negative",
    ButtonAction.MORE_LIKE_THIS: "positive",
}
OUTCOME_WORDS: dict[str, str] = {
    Outcome.NOTED: "noted for the admins",
    Outcome.NO_TOPIC: "recorded (the rule has no topic with positive examples)",
    Outcome.NO_SEMANTIC: "recorded (no topic tier here to backtest it)",
    Outcome.UNCHANGED: "already an example",
    Outcome.APPLIED: "applied",
    Outcome.PROPOSED: "waiting for an admin's decision",
    Outcome.SKIPPED: "skipped",
    Outcome.STORY_GONE: "story no longer stored",
}


def example_text(story: Story) -> str:
    """What a click makes an example of: the story's title, on one line."""
    return " ".join(story.title.split())


async def _record(
    ctx: HandlerContext,
    click: ActionCommand,
    story: Story | None,
    outcome: Outcome,
    proposal: dict[str, object] | None = None,
) -> int:
    item = Feedback(
        rule=click.rule,
        kind=click.action.value,
        story_key=story.key if story else click.story_key,
        title=story.title if story else "",
        url=story.url if story else "",
        actor=click.actor,
        at=ctx.clock(),
        outcome=outcome.value,
        proposal=proposal,
    )
    return await ctx.store.record_feedback(item)


async def feedback_click(ctx: HandlerContext, click: ActionCommand) -> Reply:
    """A "Not relevant" or "More like this" click (see the module docstring)."""
    rule = rule_in_force(ctx, click.rule)
    story = await ctx.store.get_story(click.story_key)
    words = KIND_WORDS[click.action]
    if story is None:
        await _record(ctx, click, None, Outcome.STORY_GONE)
        raise NotFoundError(
            f"that story is no longer stored; your “{words}” was recorded, nothing changed"
        )
    if not ctx.is_admin(click):
        await _record(ctx, click, story, Outcome.NOTED)
        return Reply(f"thanks — noted as “{words}” for {rule.name}'s admins", replace_original=True)
    topic = rule.topic
    if topic is None or not topic.positives:
        await _record(ctx, click, story, Outcome.NO_TOPIC)
        return Reply(_no_topic_text(rule, words), replace_original=True)
    if not ctx.topics_active:
        await _record(ctx, click, story, Outcome.NO_SEMANTIC)
        return Reply(
            f"recorded “{words}” on {rule.name}; the topic tier is off here, so the change "
            f"cannot be backtested and nothing changed (add it by hand with "
            f"`rule example add {rule.name} {EXAMPLE_KIND[click.action]} …`)",
            replace_original=True,
        )
    return await _weigh_change(ctx, click, rule, topic, story)


def _no_topic_text(rule: Rule, words: str) -> str:
    return (
        f"recorded “{words}” on {rule.name}; the rule has no topic with positive examples, "
        f"so a click does not change it and it matches as before (sharpen its query with "
        f"`rule edit {rule.name}`; `rule feedback {rule.name}` lists the clicks)"
    )


async def _weigh_change(
    ctx: HandlerContext, click: ActionCommand, rule: Rule, topic: Topic, story: Story
) -> Reply:
    """Backtest the new example; apply a small change, propose a larger one."""
    kind, text = EXAMPLE_KIND[click.action], example_text(story)
    proposed = with_example(topic, kind, text)
    if proposed == topic:
        await _record(ctx, click, story, Outcome.UNCHANGED)
        return Reply(
            f"“{shorten(text, 80)}” is already a {kind} example of {rule.name}; nothing changed",
            replace_original=True,
        )
    result = await backtest_topic_change(ctx, rule, replace(rule, topic=proposed))
    proposal: dict[str, object] = {"example": kind, "text": text, "backtest": result.figures()}
    allowed = int(SMALL_SHARE * len(result.now))
    if result.changed_besides(story.key) <= allowed:
        await store_rule(ctx, click, replace(rule, topic=proposed))
        await _record(ctx, click, story, Outcome.APPLIED, proposal)
        return Reply(_applied_text(rule, kind, text, result, story), replace_original=True)
    feedback_id = await _record(ctx, click, story, Outcome.PROPOSED, proposal)
    buttons = (
        ReplyButton("Apply", ButtonAction.APPLY_FEEDBACK, feedback_id),
        ReplyButton("Skip", ButtonAction.SKIP_FEEDBACK, feedback_id),
    )
    return Reply(_proposal_text(rule, kind, text, result), buttons=buttons)


def _backtest_line(result: TopicBacktest) -> str:
    return (
        f"over the last {result.days} days ({result.stories} stored stories) "
        f"it matched {len(result.now)}"
    )


def _applied_text(rule: Rule, kind: str, text: str, result: TopicBacktest, story: Story) -> str:
    changes = f"no longer matched: {len(result.lost)}, newly matched: {len(result.gained)}"
    itself = ""
    if kind == "negative" and result.matches(story.key) and not result.loses(story.key):
        itself = "; this story itself still scores above the threshold"
    return (
        f"added “{shorten(text, 80)}” as a {kind} example of {rule.name}: "
        f"{_backtest_line(result)}; {changes}{itself} (undo with `rule undo {rule.name}`)"
    )


def _proposal_text(rule: Rule, kind: str, text: str, result: TopicBacktest) -> str:
    lines = [
        f"adding “{shorten(text, 80)}” as a {kind} example of {rule.name} would change "
        f"more than a small share of its matches: {_backtest_line(result)}",
        f"no longer matched: {len(result.lost)}",
        *_samples(result.lost),
        f"newly matched: {len(result.gained)}",
        *_samples(result.gained),
        "nothing changes until you apply it",
    ]
    return "\n".join(lines)


def _samples(stories: tuple[Story, ...]) -> list[str]:
    return [
        f"• {shorten(s.title, 100)} ({shorten(s.publisher, 30)}, {s.published:%Y-%m-%d})"
        for s in stories[:SAMPLES]
    ]


async def decide_change(ctx: HandlerContext, click: ActionCommand) -> Reply:
    """The Apply or Skip button under a proposed change (admins only)."""
    apply = click.action == ButtonAction.APPLY_FEEDBACK
    require_admin(ctx, click, "apply" if apply else "skip")
    item = await ctx.store.get_feedback(click.feedback_id)
    if item is None or item.proposal is None:
        raise NotFoundError("that proposed change is not stored any more; nothing changed")
    if item.outcome != Outcome.PROPOSED:
        return _already_decided(item)
    rule = rule_in_force(ctx, item.rule)
    if apply and (rule.topic is None or not rule.topic.positives):
        raise NotFoundError(f"rule {rule.name} has no topic with positive examples any more")
    outcome = Outcome.APPLIED if apply else Outcome.SKIPPED
    if not await ctx.store.decide_feedback(
        item.id, outcome=outcome.value, actor=click.actor, at=ctx.clock()
    ):
        fresh = await ctx.store.get_feedback(item.id)
        return _already_decided(fresh or item)
    if not apply:
        return Reply(f"skipped: {rule.name} is unchanged", replace_original=True)
    assert rule.topic is not None
    kind, text = str(item.proposal["example"]), str(item.proposal["text"])
    topic = with_example(rule.topic, kind, text)
    if topic != rule.topic:  # an admin may have added it by hand meanwhile
        await store_rule(ctx, click, replace(rule, topic=topic))
    return Reply(
        f"applied: “{shorten(text, 80)}” is now a {kind} example of {rule.name} "
        f"(undo with `rule undo {rule.name}`)",
        replace_original=True,
    )


def _already_decided(item: Feedback) -> Reply:
    who = f" by {item.decided_by}" if item.decided_by else ""
    when = f" at {utc_time(item.decided_at)}" if item.decided_at else ""
    return Reply(
        f"that change was already {OUTCOME_WORDS.get(item.outcome, item.outcome)}"
        f"{who}{when}; nothing changed",
        replace_original=True,
    )


async def list_feedback(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """`rule feedback <name>`: the rule's clicks, newest first, with what came of each."""
    word, rest = split_first(args)
    if rest:
        raise BadArgumentsError("name one rule")
    name = rule_name(word)
    items = await ctx.store.feedback_for(name, limit=LIST_LIMIT)
    if not items and ctx.rulebook.rule(name) is None:
        raise UnknownRuleError(f"no rule named {name!r} — `rules` lists the names")
    if not items:
        return Reply(f"rule {name} has had no “not relevant” or “more like this” clicks")
    counts = await ctx.store.feedback_counts(name)
    lines = [_summary_line(name, counts)]
    lines += [_feedback_line(item) for item in items]
    return Reply("\n".join(lines))


def _summary_line(name: str, counts: dict[tuple[str, str], int]) -> str:
    total = sum(counts.values())
    by_kind = [
        f"{sum(n for (k, _), n in counts.items() if k == kind)} {words}"
        for kind, words in KIND_WORDS.items()
    ]
    applied = sum(n for (_, outcome), n in counts.items() if outcome == Outcome.APPLIED)
    waiting = sum(n for (_, outcome), n in counts.items() if outcome == Outcome.PROPOSED)
    return (
        f"rule {name}: {counted(total, 'click')} ({', '.join(by_kind)}); "
        f"{applied} applied, {waiting} waiting for a decision; newest first:"
    )


def _feedback_line(item: Feedback) -> str:
    words = KIND_WORDS.get(item.kind, item.kind)
    outcome = OUTCOME_WORDS.get(item.outcome, item.outcome)
    title = shorten(item.title, 80) or item.story_key[:12]
    return f"{utc_time(item.at)}  {item.actor}  {words} · {outcome}: {title}"


SPECS = (
    CommandSpec(
        "rule feedback",
        list_feedback,
        "rule feedback <name>",
        "rule feedback drone_strike",
        "the “not relevant” and “more like this” clicks on a rule, and what came of them",
        admin_only=True,
    ),
)
