"""Cross-validation: stratified folds, thresholds tuned on training folds only, pooled counts."""

from __future__ import annotations

from collections import Counter

from bot.cli.crossval import (
    Counts,
    ItemScores,
    RuleSetup,
    count,
    cross_validate,
    fold_numbers,
    report_lines,
    spread,
    tune_threshold,
)


def item(number: int, labels: set[str], query: bool, score: float) -> ItemScores:
    return ItemScores(
        f"i{number}", frozenset(labels), frozenset({"r"} if query else ()), {"r": score}
    )


SETUP = RuleSetup("r", has_query=True, has_topic=True, threshold=0.5)


def test_folds_are_stratified_and_stable() -> None:
    items = [item(n, {"r"} if n % 3 == 0 else set(), True, 0.5) for n in range(30)]
    numbers = fold_numbers(items, 5, seed=0)
    positives = Counter(n for it, n in zip(items, numbers, strict=True) if it.labels)
    assert sorted(positives.values()) == [2, 2, 2, 2, 2]
    assert Counter(numbers) == Counter({0: 6, 1: 6, 2: 6, 3: 6, 4: 6})
    assert fold_numbers(items[::-1], 5, seed=0) == numbers[::-1]
    assert fold_numbers(items, 5, seed=1) != numbers


def test_matching_needs_the_query_and_the_threshold() -> None:
    items = [item(0, {"r"}, True, 0.6), item(1, {"r"}, False, 0.9), item(2, set(), True, 0.4)]
    assert count(items, SETUP, 0.5) == Counts(tp=1, fp=0, fn=1)
    assert count(items, SETUP, 0.3) == Counts(tp=1, fp=1, fn=1)
    no_topic = RuleSetup("r", has_query=True, has_topic=False, threshold=0.0)
    assert count(items, no_topic, 0.99) == Counts(tp=1, fp=1, fn=1)


def test_tuning_picks_the_best_threshold_nearest_the_rules_own() -> None:
    items = [item(0, {"r"}, True, 0.45), item(1, set(), True, 0.30)]
    assert tune_threshold(items, SETUP) == 0.45  # 0.31..0.45 tie at F1 1; 0.45 is nearest 0.5


def test_tuning_puts_recall_first() -> None:
    # A veto at 0.31..0.60 saves the two false positives and loses one true
    # positive: F1 0.857 against 0.800 without it, but F2 0.789 against 0.909.
    items = [item(n, {"r"}, True, 0.6) for n in range(3)]
    items += [item(3, {"r"}, True, 0.25), item(4, set(), True, 0.3), item(5, set(), True, 0.3)]
    assert count(items, SETUP, 0.5).f1 > count(items, SETUP, 0.25).f1
    assert tune_threshold(items, SETUP) == 0.25


def test_tuning_can_choose_almost_no_veto() -> None:
    items = [item(0, {"r"}, True, 0.05), item(1, {"r"}, True, 0.6), item(2, set(), False, 0.9)]
    assert tune_threshold(items, SETUP) == 0.05  # below the true positive that scores lowest


def test_f_beta() -> None:
    counts = Counts(tp=3, fp=0, fn=1)  # precision 1, recall 0.75
    assert counts.f_beta(1.0) == counts.f1 == 6 / 7
    assert counts.f_beta(2.0) == 3.75 / 4.75
    assert Counts().f_beta(2.0) == 0.0


def test_no_threshold_is_tuned_on_the_fold_it_reports() -> None:
    # In every fold but one the positives score 0.55 and the negatives 0.10; in fold 0
    # the positives score 0.30 and the negatives 0.60, so tuning on it would choose
    # differently from tuning without it.
    items = []
    for n in range(50):
        positive = n % 2 == 0
        items.append(item(n, {"r"} if positive else set(), True, 0.55 if positive else 0.10))
    numbers = fold_numbers(items, 5, seed=0)
    items = [
        ItemScores(it.item_id, it.labels, it.query, {"r": 0.30 if it.labels else 0.60})
        if number == 0
        else it
        for it, number in zip(items, numbers, strict=True)
    ]
    (result,) = cross_validate(items, [SETUP], folds=5, seed=0)
    assert result.thresholds[0] is not None and 0.35 < result.thresholds[0] <= 0.55
    assert result.folds[0].f1 == 0.0  # the reversed fold, judged by what the others taught
    assert all(counts.f1 == 1.0 for counts in result.folds[1:])
    assert result.pooled.tp == sum(counts.tp for counts in result.folds)
    lines = report_lines([result])
    assert lines[0].startswith("r: folds F1 0.000@")
    assert "pooled P" in lines[1]


def test_spread() -> None:
    assert spread([1.0, 0.5]) == "0.750 ± 0.354 (0.500–1.000)"
