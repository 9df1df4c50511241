"""Does a learned accusation_us tier ADD recall on a set it was not trained on?

    .venv/bin/python benchmarks/bench_topic_adder.py [--gate none|us]   # ~2 min

Leave one set out: for each labelled set in tests/data (the dev set of real
news, the guideline probes and the 300-item training set written from the
guidelines), a class-balanced logistic regression over the story units'
MiniLM embeddings (title and first sentences, as the tier reads them) is
trained on every OTHER set; its "add" threshold is chosen by 4-fold
cross-validation inside those sets. The held-out set is then judged by
"query OR (gate AND p ≥ threshold)", against the query alone. The gate `us`
lets the tier add only stories that name the US (`@us`), as an accusation of
the US must.

Set-level shift is the question: the dev set is real news, every other set is
written from the guidelines, so a tier that adds on the written sets but costs
precision on the dev set would cost precision on real news.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
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
from tests.support.data import LABELLED_SETS  # noqa: E402

SETS = {
    name: LABELLED_SETS[name]
    for name in (
        "dev",
        "probe",
        "sealed",
        "sealed2",
        "sealed3",
        "sealed4",
        "hard",
        "accusation_train",
    )
}
"""The sets this benchmark was run on (its figures in benchmarks/ name them)."""
RULE = "accusation_us"
GATE_RULES = """rules:
  - name: gate_us
    description: the story names the US
    query: '@us'
"""


class Experiment:
    """Every item embedded once, with its query verdict, gate and label."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.origin: list[str] = []
        for name, path in SETS.items():
            for item in read_items(path):
                self.items.append(item)
                self.origin.append(name)
        embedder = load_embedder()
        book = RuleBook.from_file(ROOT / "config" / "rules.yaml", embedder=embedder)
        with tempfile.TemporaryDirectory() as folder:
            gate_file = Path(folder) / "gate.yaml"
            gate_file.write_text(GATE_RULES, encoding="utf-8")
            gates = RuleBook.from_file(gate_file)
        self.vectors = embed_units(embedder, self.items)
        self.hit = [RULE in {m.rule for m in book.match_query_only(i.story)} for i in self.items]
        self.names_us = [bool(gates.match_query_only(i.story)) for i in self.items]
        self.labels = [RULE in (i.labels or ()) for i in self.items]

    def train(self, indexes: list[int]) -> np.ndarray:
        return fit_units(self.vectors, self.labels, indexes)

    def scores(self, weights: np.ndarray, indexes: list[int]) -> dict[int, float]:
        return unit_scores(weights, self.vectors, indexes)

    def decide(self, k: int, scores: dict[int, float], threshold: float, gate: bool) -> bool:
        return self.hit[k] or ((self.names_us[k] or not gate) and scores[k] >= threshold)

    def threshold(self, indexes: list[int], gate: bool) -> float:
        """The best-F1 add threshold on out-of-fold scores inside `indexes` (4 folds)."""
        scores = out_of_fold(self.vectors, self.labels, indexes)
        truth = [self.labels[k] for k in indexes]

        def f1(t: float) -> tuple[float, float]:
            return counts([self.decide(k, scores, t, gate) for k in indexes], truth).f1, t

        return float(max(GRID, key=f1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gate", choices=["none", "us"], default="us")
    args = parser.parse_args()
    gate = args.gate == "us"
    run = Experiment()
    everything = range(len(run.items))
    pooled_query, pooled_adder = Counts(), Counts()
    print(f"{len(run.items)} items, leave one set out, gate {args.gate}")
    print("set          add at   query P / R / F1       with the tier P / R / F1   added TP, FP")
    for held in SETS:
        test = [k for k in everything if run.origin[k] == held]
        train = [k for k in everything if run.origin[k] != held]
        threshold = run.threshold(train, gate)
        scores = run.scores(run.train(train), test)
        truth = [run.labels[k] for k in test]
        query = counts([run.hit[k] for k in test], truth)
        adder = counts([run.decide(k, scores, threshold, gate) for k in test], truth)
        pooled_query.add(query)
        pooled_adder.add(adder)
        print(
            f"{held:<12} {threshold:.2f}    {query.precision:.3f} / {query.recall:.3f} / "
            f"{query.f1:.3f}    {adder.precision:.3f} / {adder.recall:.3f} / {adder.f1:.3f}"
            f"      +{adder.tp - query.tp}, +{adder.fp - query.fp}"
        )
    print(
        f"pooled                {pooled_query.precision:.3f} / {pooled_query.recall:.3f} / "
        f"{pooled_query.f1:.3f}    {pooled_adder.precision:.3f} / {pooled_adder.recall:.3f} / "
        f"{pooled_adder.f1:.3f}"
    )


if __name__ == "__main__":
    main()
