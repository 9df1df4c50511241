"""k-fold cross-validation of the rules: `newswatch rules eval --folds 5`.

The items are dealt into k folds, stratified by their label set so every
fold holds its share of each rule's positives (a stable hash of the id
orders the items within a label set, so the folds do not depend on file
order). For each fold, whatever is tuned is tuned on the other k − 1 folds
only — today the topic threshold of each rule with a topic, chosen from
`THRESHOLDS` to maximise F-beta (`BETA`) there — and the fold is then scored
with it.
Nothing is tuned on the fold that is reported. The query tier has nothing to
tune; its folds still show how much the figures move between samples.

Each item is run through the cascade once (`RuleBook.cascade_scores`): which
queries matched and each topic's score. Matching at a threshold is then a
comparison, so trying every threshold costs nothing more.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.cli.items import Item
from bot.pipeline.match import RuleBook

THRESHOLDS = tuple(round(0.01 * step, 2) for step in range(61))
"""Topic thresholds tried on the training folds: 0.00 to 0.60.

The low end is there because for a rule with a query the topic is a veto, and
the best veto may be none at all: on the seed drone_strike every threshold
above 0.14 only lost true positives (benchmarks/topics.md)."""

BETA = 2.0
"""Recall weighs this many times as much as precision when a threshold is tuned.

A missed alert costs more than a borderline one, and a veto tuned for F1 on
the sets a rule was written on cut true positives on sets written blind to it
(benchmarks/topics.md, "The veto, recalibrated"); F2 chose the thresholds that
held up when a whole set was left out."""


@dataclass(frozen=True, slots=True)
class ItemScores:
    """One item as the cascade sees it, for any threshold."""

    item_id: str
    labels: frozenset[str]
    query: frozenset[str]
    """Rules whose query matched."""
    topic: Mapping[str, float]
    """Each asked topic's best score."""


@dataclass(frozen=True, slots=True)
class RuleSetup:
    """How one rule decides: its query (if any) and its topic (if the tier runs)."""

    name: str
    has_query: bool
    has_topic: bool
    threshold: float


@dataclass
class Counts:
    """True positives, false positives and false negatives of one rule."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return self.f_beta(1.0)

    def f_beta(self, beta: float) -> float:
        """Harmonic mean of precision and recall in which recall counts `beta` times as much."""
        p, r, weight = self.precision, self.recall, beta * beta
        return (1 + weight) * p * r / (weight * p + r) if p + r else 0.0


@dataclass
class RuleFolds:
    """One rule's figures: per fold (with the threshold used) and pooled."""

    rule: str
    folds: list[Counts] = field(default_factory=list)
    thresholds: list[float | None] = field(default_factory=list)

    @property
    def pooled(self) -> Counts:
        total = Counts()
        for counts in self.folds:
            total.add(counts)
        return total


def score_items(book: RuleBook, items: Sequence[Item]) -> list[ItemScores]:
    """Run every labelled item through the cascade once."""
    scored = []
    for item in items:
        assert item.labels is not None
        query, topic = book.cascade_scores(item.story)
        scored.append(ItemScores(item.id, item.labels, query, topic))
    return scored


def rule_setups(book: RuleBook, *, with_topics: bool) -> list[RuleSetup]:
    """The enabled rules as the cascade applies them (topics only when the tier runs)."""
    active = with_topics and book.scorer is not None
    return [
        RuleSetup(
            rule.name,
            bool(rule.query),
            active and rule.topic is not None,
            rule.topic.threshold if rule.topic is not None else 0.0,
        )
        for rule in book.rules
        if rule.enabled and (rule.query or (active and rule.topic is not None))
    ]


def matches(item: ItemScores, setup: RuleSetup, threshold: float) -> bool:
    """Whether the rule matches the item at this topic threshold."""
    if setup.has_query and setup.name not in item.query:
        return False
    if not setup.has_topic:
        return True
    return item.topic.get(setup.name, float("-inf")) >= threshold


def count(items: Sequence[ItemScores], setup: RuleSetup, threshold: float) -> Counts:
    """The rule's counts over the items at this threshold."""
    counts = Counts()
    for item in items:
        expected, got = setup.name in item.labels, matches(item, setup, threshold)
        counts.tp += expected and got
        counts.fp += got and not expected
        counts.fn += expected and not got
    return counts


def tune_threshold(items: Sequence[ItemScores], setup: RuleSetup) -> float:
    """The threshold with the best F-beta on `items`; ties go to the one nearest the rule's own."""
    return max(
        THRESHOLDS,
        key=lambda t: (count(items, setup, t).f_beta(BETA), -abs(t - setup.threshold)),
    )


def fold_numbers(items: Sequence[ItemScores], folds: int, seed: int) -> list[int]:
    """The fold of each item: stratified by label set, stable under reordering."""

    def order(index: int) -> tuple[tuple[str, ...], str]:
        item = items[index]
        digest = hashlib.sha256(f"{seed}:{item.item_id}".encode()).hexdigest()
        return tuple(sorted(item.labels)), digest

    numbers = [0] * len(items)
    for position, index in enumerate(sorted(range(len(items)), key=order)):
        numbers[index] = position % folds
    return numbers


def cross_validate(
    items: Sequence[ItemScores],
    setups: Sequence[RuleSetup],
    *,
    folds: int,
    seed: int = 0,
    tune: bool = True,
) -> list[RuleFolds]:
    """Per-fold and pooled counts; thresholds tuned on the other folds when `tune`."""
    numbers = fold_numbers(items, folds, seed)
    results = [RuleFolds(setup.name) for setup in setups]
    for fold in range(folds):
        train = [item for item, number in zip(items, numbers, strict=True) if number != fold]
        test = [item for item, number in zip(items, numbers, strict=True) if number == fold]
        for setup, result in zip(setups, results, strict=True):
            threshold = setup.threshold
            if tune and setup.has_topic:
                threshold = tune_threshold(train, setup)
            result.folds.append(count(test, setup, threshold))
            result.thresholds.append(threshold if setup.has_topic else None)
    return results


def spread(values: Sequence[float]) -> str:
    """`mean ± sd (min–max)` of per-fold figures."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f} ({min(values):.3f}–{max(values):.3f})"


def report_lines(results: Sequence[RuleFolds]) -> list[str]:
    """Per rule: each fold's F1 (and threshold), then pooled P/R/F1 and the F1 spread."""
    lines = []
    for result in results:
        per_fold = "  ".join(
            f"{counts.f1:.3f}" + (f"@{t:.2f}" if t is not None else "")
            for counts, t in zip(result.folds, result.thresholds, strict=True)
        )
        pooled = result.pooled
        lines.append(f"{result.rule}: folds F1 {per_fold}")
        lines.append(
            f"  pooled P {pooled.precision:.3f}  R {pooled.recall:.3f}  F1 {pooled.f1:.3f}"
            f"  (TP {pooled.tp}, FP {pooled.fp}, FN {pooled.fn});"
            f" per-fold F1 {spread([c.f1 for c in result.folds])},"
            f" R {spread([c.recall for c in result.folds])}"
        )
    return lines
