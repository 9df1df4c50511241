"""A learned tier per seed rule, trained on the real news labelled so far: does it add or veto well?

    .venv/bin/python benchmarks/bench_learned_tier.py     # ~4 min (embeds ~6,000 items once)

The question of benchmarks/topics.md ("A learned accusation_us tier …", "A learned
veto …") asked again with what it said would change the verdict: labelled REAL
stories in the training set. Training items: every labelled set in tests/data
except the real-news checks (`tests.support.data.REAL_NEWS_CHECKS`, the sets
test_seed_quality scores; the figures of 2026-12-06 in benchmarks/topics.md were
taken before realnews6 joined them). For each seed rule a class-balanced logistic
regression over the story units' MiniLM embeddings (title and first sentences,
as the tier reads them) is trained on them; its "add" and "veto" thresholds are
chosen by 4-fold cross-validation inside the training items, by F1 on their
real-news part (the held-out check is real news). The unread real-news checks
are then judged four ways: the shipped cascade (query and cosine veto), the
cascade OR the learned score above the add threshold, the cascade AND the learned
score above the veto threshold, and both. Nothing is tuned on what is scored.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_topic_tiers import (  # noqa: E402
    GRID,
    counts,
    embed_units,
    fit_units,
    out_of_fold,
    unit_scores,
)

from bot.cli.crossval import Counts  # noqa: E402
from bot.cli.items import Item, read_items  # noqa: E402
from bot.pipeline.match import RuleBook  # noqa: E402
from filters.semantic import load_embedder  # noqa: E402
from tests.support.data import LABELLED_SETS, REAL_NEWS_CHECKS  # noqa: E402

REAL_TRAIN = (
    "dev",
    "realnews_train",
    "realnews_acc_train",
    "realnews3_train",
    "realnews4_train",
    "realnews5_train",
)
"""Real news among the training items: the thresholds are chosen on these."""
SEED_RULES = ("drone_strike", "accusation_us", "aid_package")


class Experiment:
    """Every labelled item embedded once, with the shipped cascade's verdicts and its labels."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.origin: list[str] = []
        for name, path in LABELLED_SETS.items():
            for item in read_items(path):
                self.items.append(item)
                self.origin.append(name)
        embedder = load_embedder()
        book = RuleBook.from_file(ROOT / "config" / "rules.yaml", embedder=embedder)
        self.vectors = embed_units(embedder, self.items)
        self.shipped = [{m.rule for m in book.match_story(i.story)} for i in self.items]
        self.labels = [set(i.labels or ()) for i in self.items]
        everything = range(len(self.items))
        self.train = [k for k in everything if self.origin[k] not in REAL_NEWS_CHECKS]
        self.test = [k for k in everything if self.origin[k] in REAL_NEWS_CHECKS]
        self.real_train = [k for k in self.train if self.origin[k] in REAL_TRAIN]

    def truth(self, rule: str) -> list[bool]:
        return [rule in labels for labels in self.labels]

    def fit(self, rule: str, indexes: list[int]) -> np.ndarray:
        return fit_units(self.vectors, self.truth(rule), indexes)

    def scores(self, weights: np.ndarray, indexes: list[int]) -> dict[int, float]:
        return unit_scores(weights, self.vectors, indexes)

    def out_of_fold(self, rule: str) -> dict[int, float]:
        return out_of_fold(self.vectors, self.truth(rule), self.train)


Decide = Callable[[int, dict[int, float], float, float], bool]


def cascades(rule: str, run: Experiment) -> dict[str, Decide]:
    def shipped(k: int) -> bool:
        return rule in run.shipped[k]

    return {
        "shipped cascade": lambda k, s, add, veto: shipped(k),
        "OR learned (add)": lambda k, s, add, veto: shipped(k) or s[k] >= add,
        "AND learned (veto)": lambda k, s, add, veto: shipped(k) and s[k] >= veto,
        "both": lambda k, s, add, veto: (shipped(k) and s[k] >= veto) or s[k] >= add,
    }


def judge(
    rule: str,
    run: Experiment,
    indexes: list[int],
    decide: Decide,
    scores: dict[int, float],
    add: float,
    veto: float,
) -> Counts:
    truth = [rule in run.labels[k] for k in indexes]
    return counts([decide(k, scores, add, veto) for k in indexes], truth)


def main() -> None:
    run = Experiment()
    print(
        f"{len(run.train)} training items ({len(run.real_train)} real news), "
        f"{len(run.test)} unread real-news items scored"
    )
    for rule in SEED_RULES:
        oof = run.out_of_fold(rule)
        ways = cascades(rule, run)
        add = float(
            max(
                GRID,
                key=lambda t: (
                    judge(rule, run, run.real_train, ways["OR learned (add)"], oof, t, 0.0).f1
                ),
            )
        )
        veto = float(
            max(
                GRID,
                key=lambda t: (
                    judge(rule, run, run.real_train, ways["AND learned (veto)"], oof, 1.0, t).f1
                ),
            )
        )
        scores = run.scores(run.fit(rule, run.train), run.test)
        print(f"{rule}: add at {add:.2f}, veto below {veto:.2f} (chosen on the training folds)")
        for name, decide in ways.items():
            c = judge(rule, run, run.test, decide, scores, add, veto)
            print(
                f"  {name:<20} P {c.precision:.3f}  R {c.recall:.3f}  F1 {c.f1:.3f}"
                f"   TP {c.tp}  FP {c.fp}  FN {c.fn}"
            )


if __name__ == "__main__":
    main()
