"""The issue's case with the real seed rules and the real model: an admin's
"Not relevant" click must leave every seed rule's recall on the labelled dev set
unchanged (tests/data/eval/dev.jsonl), as `newswatch rules eval` computes it.

Before, one such click on a rule without a topic gave it a topic of its
description alone (threshold 0.5, no positives), which left drone_strike with
9 of its 35 true matches, accusation_us 0 of 22 and aid_package 5 of 24. Now
a rule without a topic never gets one from a click. For the seed rules as
shipped (with topics), a click on a true match (an admin's mistake) is
backtested on the stored stories first: applied only when it changes no more
than a small share of the rule's matches, else proposed and left undone; either
way the recall lost is what the backtest showed, never more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bot.cli.evaluate import RuleScore, evaluate_rules
from bot.cli.items import Item, read_items
from bot.pipeline.match import RuleBook
from bot.service.app import load_semantic
from bot.store import NewStory, SqlStore
from filters.semantic import Embedder
from handlers import ActionCommand, ButtonAction, ChatKind, HandlerContext, dispatch
from handlers.feedback import SMALL_SHARE
from tests.support.data import DEV_SET

ROOT = Path(__file__).resolve().parents[1]
SEED_RULES = ("drone_strike", "accusation_us", "aid_package")
ADMIN = "900"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class NoChatAdmins:
    async def is_chat_admin(self, chat_id: str, user_id: str) -> bool:
        return False


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    found = load_semantic("on")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return list(read_items(DEV_SET))


def without_topics(tmp_path: Path) -> Path:
    """The seed rules file with every topic removed: the rules the issue's case is about."""
    data = yaml.safe_load((ROOT / "config" / "rules.yaml").read_text(encoding="utf-8"))
    for rule in data["rules"]:
        rule.pop("topic", None)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


async def context(store: SqlStore, rules_file: Path, embedder: Embedder) -> HandlerContext:
    book = RuleBook(rules_file, embedder=embedder)
    await book.reload(store)

    async def rules_changed() -> None:
        return None

    return HandlerContext(
        store=store,
        rulebook=book,
        admin_ids={"telegram": frozenset({ADMIN})},
        clock=lambda: NOW,
        chat_admin_check=NoChatAdmins(),
        on_rules_changed=rules_changed,
        topics_active=True,
    )


async def store_items(store: SqlStore, items: Sequence[Item]) -> None:
    """The dev items as stored stories of today, as the poller would have left them."""
    stories = [replace(i.story, fetched_at=NOW, canonical_url="", guid=None) for i in items]
    await store.save_stories([NewStory(story=story, alert=None) for story in stories])


def scores(book: RuleBook, items: Sequence[Item]) -> dict[str, RuleScore]:
    found = evaluate_rules(items, SEED_RULES, lambda item: book.match_story(item.story))
    return {score.rule: score for score in found}


def first_true_match(book: RuleBook, items: Sequence[Item], rule: str) -> Item:
    return next(
        i
        for i in items
        if i.labels and rule in i.labels and rule in {m.rule for m in book.match_story(i.story)}
    )


async def click_not_relevant(ctx: HandlerContext, rule: str, item: Item) -> str:
    click = ActionCommand(
        "telegram",
        "-100",
        ADMIN,
        "admin",
        ChatKind.GROUP,
        ButtonAction.NOT_RELEVANT,
        rule,
        item.story.key,
    )
    reply = await dispatch(ctx, click)
    assert reply.ok, reply.text
    [latest] = await ctx.store.feedback_for(rule, limit=1)
    return latest.outcome


@pytest.mark.slow
async def test_a_click_on_a_rule_without_a_topic_leaves_dev_recall_unchanged(
    store: SqlStore, tmp_path: Path, embedder: Embedder, items: list[Item]
) -> None:
    ctx = await context(store, without_topics(tmp_path), embedder)
    await store_items(store, items)
    before = scores(ctx.rulebook, items)
    for rule in SEED_RULES:
        outcome = await click_not_relevant(ctx, rule, first_true_match(ctx.rulebook, items, rule))
        assert outcome == "no_topic"
    after = scores(ctx.rulebook, items)
    for rule in SEED_RULES:
        assert after[rule].recall == before[rule].recall, rule
        assert after[rule].true_positives == before[rule].true_positives >= 20, rule
        found = ctx.rulebook.rule(rule)
        assert found is not None and found.topic is None
    assert await store.list_rules() == []


@pytest.mark.slow
async def test_a_mistaken_click_on_a_seed_rule_costs_no_more_than_its_backtest_showed(
    store: SqlStore, embedder: Embedder, items: list[Item]
) -> None:
    ctx = await context(store, ROOT / "config" / "rules.yaml", embedder)
    await store_items(store, items)
    before = scores(ctx.rulebook, items)
    for rule in SEED_RULES:
        matched = sum(
            1 for i in items if rule in {m.rule for m in ctx.rulebook.match_story(i.story)}
        )
        outcome = await click_not_relevant(ctx, rule, first_true_match(ctx.rulebook, items, rule))
        after = scores(ctx.rulebook, items)[rule]
        lost = before[rule].true_positives - after.true_positives
        [item] = await store.feedback_for(rule, limit=1)
        assert item.proposal is not None
        predicted = item.proposal["backtest"]
        assert isinstance(predicted, dict) and predicted["matched"] == matched
        if outcome == "proposed":
            assert lost == 0, rule  # nothing changes until an admin applies it
        else:
            assert outcome == "applied", (rule, outcome)
            assert lost <= predicted["lost_count"] <= 1 + int(SMALL_SHARE * matched), rule
        before[rule] = after
