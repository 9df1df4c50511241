"""Shaping a rule's topic from chat: examples, threshold and intent (admins).

A rule without a topic gets one on its first topic edit, with the rule's
description (or its name) as the intent. Each edit saves the whole rule, so
the audit trail holds the topic before and after and `rule undo` reverts it.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.errors import NotFoundError
from bot.core.model import Rule, Topic
from handlers.arguments import BadArgumentsError, parse_threshold, split_first
from handlers.command import ChatOrigin, Command, Reply
from handlers.context import HandlerContext
from handlers.rule_edits import rule_in_force, store_rule
from handlers.spec import CommandSpec

EXAMPLE_KINDS = ("positive", "negative")
MAX_EXAMPLE_LENGTH = 1000


def topic_of(rule: Rule) -> Topic:
    """The rule's topic, or a new one whose intent is its description (or name)."""
    if rule.topic is not None:
        return rule.topic
    return Topic(intent=rule.description or rule.name.replace("_", " "))


def with_example(topic: Topic, kind: str, text: str) -> Topic:
    """The topic with one more positive or negative example (unchanged if it is there)."""
    examples = topic.positives if kind == "positive" else topic.negatives
    if text in examples:
        return topic
    if kind == "positive":
        return replace(topic, positives=(*topic.positives, text))
    return replace(topic, negatives=(*topic.negatives, text))


def without_example(topic: Topic, kind: str, which: str) -> tuple[Topic, str]:
    """The topic without the example given by its text or its number; and that text."""
    examples = topic.positives if kind == "positive" else topic.negatives
    same_text = [text for text in examples if " ".join(text.split()) == which]
    if which.isdigit() and 1 <= int(which) <= len(examples):
        gone = examples[int(which) - 1]
    elif same_text:
        gone = same_text[0]
    else:
        raise NotFoundError(
            f"no {kind} example {which!r} — `rule show` numbers them; "
            "remove one by its number or exact text"
        )
    kept = tuple(text for text in examples if text != gone)
    topic = replace(topic, positives=kept) if kind == "positive" else replace(topic, negatives=kept)
    return topic, gone


def _example_arguments(args: str) -> tuple[str, str, str]:
    """`<name> <positive|negative> <text>` → (name, kind, text)."""
    name, rest = split_first(args)
    kind, text = split_first(rest)
    if kind.lower() not in EXAMPLE_KINDS:
        raise BadArgumentsError("say whether the example is positive or negative")
    if not text:
        raise BadArgumentsError("the example text is missing")
    if len(text) > MAX_EXAMPLE_LENGTH:
        raise BadArgumentsError(f"keep an example under {MAX_EXAMPLE_LENGTH} characters")
    return name, kind.lower(), " ".join(text.split())


async def _save_topic(ctx: HandlerContext, origin: ChatOrigin, rule: Rule, topic: Topic) -> bool:
    """Save the rule with the new topic; False when nothing would change."""
    if rule.topic == topic:
        return False
    await store_rule(ctx, origin, replace(rule, topic=topic))
    return True


async def add_example(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """`rule example add <name> <positive|negative> <text>`."""
    name, kind, text = _example_arguments(args)
    rule = rule_in_force(ctx, name)
    changed = await _save_topic(ctx, command, rule, with_example(topic_of(rule), kind, text))
    if not changed:
        return Reply(f"rule {rule.name} already has that {kind} example")
    return Reply(f"added a {kind} example to rule {rule.name}")


async def remove_example(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """`rule example rm <name> <positive|negative> <text|number>`."""
    name, kind, which = _example_arguments(args)
    rule = rule_in_force(ctx, name)
    topic, gone = without_example(topic_of(rule), kind, which)
    await _save_topic(ctx, command, rule, topic)
    return Reply(f"removed {kind} example from rule {rule.name}: {gone}")


async def set_threshold(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """`rule threshold <name> <value>`: how close a story must come to the topic."""
    name, value = split_first(args)
    if not value:
        raise BadArgumentsError("the threshold is missing")
    threshold = parse_threshold(value)
    rule = rule_in_force(ctx, name)
    topic = replace(topic_of(rule), threshold=threshold)
    if not await _save_topic(ctx, command, rule, topic):
        return Reply(f"rule {rule.name}'s threshold is already {threshold:g}")
    return Reply(f"rule {rule.name}'s topic threshold is now {threshold:g}")


async def set_intent(ctx: HandlerContext, command: Command, args: str) -> Reply:
    """`rule intent <name> <text>`: the sentence saying what the topic is about."""
    name, intent = split_first(args)
    if not intent:
        raise BadArgumentsError("the intent text is missing")
    rule = rule_in_force(ctx, name)
    topic = replace(topic_of(rule), intent=" ".join(intent.split()))
    if not await _save_topic(ctx, command, rule, topic):
        return Reply(f"rule {rule.name}'s intent already reads like that")
    return Reply(f"rule {rule.name}'s topic intent is now: {topic.intent}")


SPECS = (
    CommandSpec(
        "rule example add",
        add_example,
        "rule example add <name> <positive|negative> <text>",
        "rule example add drone_strike negative Drone light show opens the city festival",
        "teach a rule's topic with an example story text",
        admin_only=True,
    ),
    CommandSpec(
        "rule example rm",
        remove_example,
        "rule example rm <name> <positive|negative> <text|number>",
        "rule example rm drone_strike negative 2",
        "remove an example (numbers as in rule show)",
        admin_only=True,
    ),
    CommandSpec(
        "rule threshold",
        set_threshold,
        "rule threshold <name> <0..1>",
        "rule threshold drone_strike 0.55",
        "how close a story must come to the topic",
        admin_only=True,
    ),
    CommandSpec(
        "rule intent",
        set_intent,
        "rule intent <name> <text>",
        "rule intent aid_package A government announces new aid for another country",
        "say in one sentence what a rule's topic is about",
        admin_only=True,
    ),
)
