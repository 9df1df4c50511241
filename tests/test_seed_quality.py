"""The seed rules' quality targets, with the real model, as `newswatch rules eval` computes them.

Issue targets, per seed rule, on the dev set (tests/data/eval/dev.jsonl) joined
with tests/data/guideline_probe.jsonl (headlines and summaries written from the
labelling guidelines alone, not from dev items), 5-fold cross-validated with
the topic thresholds tuned on the other folds: F1 ≥ 0.94 / 0.93 / 0.92 and
recall ≥ 0.90 for drone_strike / accusation_us / aid_package. Each set alone
keeps the older floor (F1 ≥ 0.85 query only, ≥ 0.92 with the semantic tier).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import crossval
from bot.cli.evaluate import evaluate_rules
from bot.cli.items import Item, read_items
from bot.pipeline.match import RuleBook
from bot.service.app import load_semantic
from tests.support.data import (
    DEV_SET,
    GUIDELINE_PROBE,
    LABELLED_SETS,
    REAL_NEWS_CHECKS,
    SEALED_PROBES,
)

ROOT = Path(__file__).resolve().parents[1]
SETS = {"dev": DEV_SET, "probe": GUIDELINE_PROBE}
SEED_RULES = ("drone_strike", "accusation_us", "aid_package")
EVENING_PROBES = ("sealed7", "sealed8", "sealed9")
LATE_PROBES = ("sealed10", "sealed11", "sealed12")
CV_F1 = {"drone_strike": 0.94, "accusation_us": 0.93, "aid_package": 0.92}


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return RuleBook.from_file(ROOT / "config" / "rules.yaml", embedder=load_semantic("on"))


@pytest.fixture(scope="module")
def union() -> list[Item]:
    return [item for path in SETS.values() for item in read_items(path)]


@pytest.mark.parametrize("name", sorted(SETS))
def test_seed_rules_meet_their_targets(book: RuleBook, name: str) -> None:
    items = list(read_items(SETS[name]))
    query = evaluate_rules(items, SEED_RULES, lambda item: book.match_query_only(item.story))
    cascade = evaluate_rules(items, SEED_RULES, lambda item: book.match_story(item.story))
    for q, c in zip(query, cascade, strict=True):
        assert q.f1 >= 0.85, f"{name}: {q.rule} query-only F1 {q.f1:.3f}"
        assert c.f1 >= 0.92, f"{name}: {c.rule} F1 with the semantic tier {c.f1:.3f}"


def test_cross_validated_targets_on_dev_and_probe(book: RuleBook, union: list[Item]) -> None:
    scored = crossval.score_items(book, union)
    setups = [s for s in crossval.rule_setups(book, with_topics=True) if s.name in SEED_RULES]
    for result in crossval.cross_validate(scored, setups, folds=5, seed=0):
        pooled = result.pooled
        assert pooled.f1 >= CV_F1[result.rule], f"{result.rule}: CV F1 {pooled.f1:.3f}"
        assert pooled.recall >= 0.90, f"{result.rule}: CV recall {pooled.recall:.3f}"


def test_the_read_sealed_probes_keep_their_floor(book: RuleBook) -> None:
    # sealed, sealed2 and sealed3 were scored blind and then read to fix whole
    # classes of error (README, "Quality of the seed rules"); they now guard those
    # fixes: each rule keeps F1 ≥ 0.92 and recall ≥ 0.90 on their union, with the
    # tier (2026-12-03: 0.940 / 0.951 / 0.981, recall 0.948 / 0.929 / 0.962; with the
    # vetoes recalibrated to 0.10 / 0.25 / 0.28: 0.983 / 0.964 / 1.000, recall
    # 0.983 / 0.952 / 1.000).
    items = [item for path in SEALED_PROBES for item in read_items(path)]
    for result in evaluate_rules(items, SEED_RULES, lambda item: book.match_story(item.story)):
        assert result.f1 >= 0.92, f"{result.rule}: F1 {result.f1:.3f} on the sealed probes"
        assert result.recall >= 0.90, f"{result.rule}: recall {result.recall:.3f}"


def test_cascade_scores_decide_as_the_cascade_does(book: RuleBook, union: list[Item]) -> None:
    setups = crossval.rule_setups(book, with_topics=True)
    for item in union:
        (scored,) = crossval.score_items(book, [item])
        expected = {match.rule for match in book.match_story(item.story)}
        got = {s.name for s in setups if crossval.matches(scored, s, s.threshold)}
        assert got == expected, item.id


def test_the_evening_blind_probes_keep_the_issue_goals(book: RuleBook) -> None:
    # sealed7, sealed8 and sealed9 were each written blind and scored once against the
    # rules of their moment (README, "As shipped"); sealed7 and sealed8 were then read.
    # On their union each rule keeps the issue's goals, F1 ≥ 0.93 and recall ≥ 0.90,
    # with the tier (2026-12-03 at a32bd1c: 0.985 / 0.944 / 0.965, recall 0.985 / 0.914 /
    # 0.946), so a later change that loses what they taught fails here.
    items = [item for name in EVENING_PROBES for item in read_items(LABELLED_SETS[name])]
    for result in evaluate_rules(items, SEED_RULES, lambda item: book.match_story(item.story)):
        assert result.f1 >= 0.93, f"{result.rule}: F1 {result.f1:.3f} on sealed7–9"
        assert result.recall >= 0.90, f"{result.rule}: recall {result.recall:.3f} on sealed7–9"


def test_the_late_blind_probes_keep_the_issue_goals(book: RuleBook) -> None:
    # sealed10 and sealed11 were written blind and scored once at ac89af0, sealed12 at
    # ae27aa4 (README, "As shipped"), none read: with the tier 0.979 / 0.956 / 0.953,
    # 0.984 / 1.000 / 1.000 and 0.985 / 0.957 / 1.000.
    # Each rule keeps the issue's goals on each of them, so a change that trades unseen
    # recall for the read sets' fails here.
    for name in LATE_PROBES:
        items = read_items(LABELLED_SETS[name])
        for result in evaluate_rules(items, SEED_RULES, lambda item: book.match_story(item.story)):
            assert result.f1 >= 0.93, f"{result.rule}: F1 {result.f1:.3f} on {name}"
            assert result.recall >= 0.90, f"{result.rule}: recall {result.recall:.3f} on {name}"


REAL_NEWS_FLOOR = {"drone_strike": 0.89, "accusation_us": 0.51, "aid_package": 0.62}


def test_the_unread_real_news_checks_keep_their_floor(book: RuleBook) -> None:
    # Real feed items from the archives the dev set cites, labelled blind by the guidelines
    # (tests/data/guideline_realnews*.md), kept out of the rules' training (REAL_NEWS_CHECKS
    # says which were read since, in the second round of 2026-12-06). On their union (1,805
    # items, with the tier) the rules of 2026-12-06 score F1 0.917 / 0.540 / 0.649 (README,
    # "Quality of the seed rules"); each keeps F1 within 0.02-0.03 of that, so a change that
    # trades real-news quality for the written sets' fails.
    items = [item for name in REAL_NEWS_CHECKS for item in read_items(LABELLED_SETS[name])]
    for result in evaluate_rules(items, SEED_RULES, lambda item: book.match_story(item.story)):
        floor = REAL_NEWS_FLOOR[result.rule]
        assert result.f1 >= floor, f"{result.rule}: F1 {result.f1:.3f} on unread real news"
