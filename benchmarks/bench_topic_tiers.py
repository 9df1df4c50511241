"""Can a topic tier ADD recall? The shipped cosine scorer against per-rule classifiers.

    .venv/bin/python benchmarks/bench_topic_tiers.py [--folds 5] [--seed 0]

Items: the dev set, the guideline probe and the sealed probe (all labelled).
Each item is judged by its units (title and first sentences, as the tier
reads them), embedded once with the shipped MiniLM model. Per seed rule:

- `cosine`: today's topic score (filters.topics), from the rule's intent and
  examples;
- `lr-examples`: a logistic regression over unit embeddings trained on the
  rule's intent and positives (1) and negatives (0) only: what a new rule has;
- `lr-feedback`: the same, also trained on the items of the other folds (as
  "not relevant" clicks and confirmed alerts would teach it), so it is
  cross-validated: an item is scored by a model that never saw it.

For each it prints the ranking quality (ROC AUC) over all items and over the
items the query misses (where a tier would have to add), and the pooled
cross-validated P/R/F1 of three cascades, thresholds tuned on the other
folds: the query with a veto (what ships), the query OR the tier above an
"add" threshold, and the tier alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.crossval import Counts, ItemScores, fold_numbers  # noqa: E402
from bot.cli.items import Item, read_items  # noqa: E402
from bot.pipeline.match import RuleBook  # noqa: E402
from filters.semantic import Embedder, load_embedder  # noqa: E402
from filters.topics import story_units  # noqa: E402

SETS = [
    ROOT / "tests" / "data" / "eval" / "dev.jsonl",
    ROOT / "tests" / "data" / "guideline_probe.jsonl",
    ROOT / "tests" / "data" / "guideline_probe_sealed.jsonl",
]
SEED_RULES = ("drone_strike", "accusation_us", "aid_package")
GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


def logistic_regression(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights (with bias last) by gradient descent, classes balanced."""
    x1 = np.hstack([x, np.ones((len(x), 1), dtype=np.float32)])
    weights = np.zeros(x1.shape[1])
    balance = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    for _ in range(800):
        p = 1 / (1 + np.exp(-(x1 @ weights)))
        gradient = x1.T @ ((p - y) * balance) / len(y) + l2 * weights / len(y)
        weights -= 2.0 * gradient
    return weights


def predict(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    x1 = np.hstack([x, np.ones((len(x), 1), dtype=np.float32)])
    return 1 / (1 + np.exp(-(x1 @ weights)))


def embed_units(embedder: Embedder, items: Sequence[Item]) -> list[np.ndarray]:
    """Each item's story units (title and first sentences, as the tier reads them), embedded."""
    units = [story_units(i.story.title, i.story.summary or i.story.content) or ("",) for i in items]
    return [embedder.embed(list(u)) for u in units]


def fit_units(
    vectors: Sequence[np.ndarray], truth: Sequence[bool], indexes: Sequence[int]
) -> np.ndarray:
    """A classifier over the units of these items, each unit labelled as its item."""
    x = np.vstack([vectors[k] for k in indexes])
    y = np.concatenate([np.full(len(vectors[k]), truth[k]) for k in indexes])
    return logistic_regression(x, y.astype(float))


def unit_scores(
    weights: np.ndarray, vectors: Sequence[np.ndarray], indexes: Sequence[int]
) -> dict[int, float]:
    """Each item's score: its best unit's."""
    return {k: float(predict(weights, vectors[k]).max()) for k in indexes}


def out_of_fold(
    vectors: Sequence[np.ndarray], truth: Sequence[bool], indexes: Sequence[int], folds: int = 4
) -> dict[int, float]:
    """Every item of `indexes` scored by a classifier trained on the other folds (seeded order)."""
    order = [int(k) for k in np.random.default_rng(0).permutation(indexes)]
    scores: dict[int, float] = {}
    for fold in range(folds):
        test = order[fold::folds]
        held = set(test)
        weights = fit_units(vectors, truth, [k for k in indexes if k not in held])
        scores.update(unit_scores(weights, vectors, test))
    return scores


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    positives = [s for s, label in zip(scores, labels, strict=True) if label]
    negatives = [s for s, label in zip(scores, labels, strict=True) if not label]
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def counts(decisions: Sequence[bool], labels: Sequence[bool]) -> Counts:
    result = Counts()
    for got, expected in zip(decisions, labels, strict=True):
        result.tp += got and expected
        result.fp += got and not expected
        result.fn += expected and not got
    return result


def best(indexes: list[int], decide: Callable[[int, float], bool], labels: list[bool]) -> float:
    """The grid threshold with the best F1 on these items."""
    truth = [labels[i] for i in indexes]
    return float(max(GRID, key=lambda t: counts([decide(i, t) for i in indexes], truth).f1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    items: list[Item] = [item for path in SETS for item in read_items(path)]
    embedder = load_embedder()
    book = RuleBook.from_file(ROOT / "config" / "rules.yaml", embedder=embedder)
    assert book.scorer is not None
    vectors = embed_units(embedder, items)
    query = [{m.rule for m in book.match_query_only(i.story)} for i in items]
    cascade = [book.cascade_scores(i.story) for i in items]
    placeholder = [ItemScores(i.id, i.labels or frozenset(), frozenset(), {}) for i in items]
    numbers = fold_numbers(placeholder, args.folds, args.seed)
    print(f"{len(items)} items (dev + probe + sealed probe), {args.folds} folds")
    for name in SEED_RULES:
        rule = book.rule(name)
        assert rule is not None and rule.topic is not None
        labels = [name in (i.labels or ()) for i in items]
        hit = [name in q for q in query]
        scorer = book.scorer
        cosine = [
            scorer.score_text(f"bench:{i.id}", i.story.title, i.story.summary, [name])[name].score
            for i in items
        ]
        veto = [cascade[k][1].get(name, float("-inf")) for k in range(len(items))]
        examples = [rule.topic.intent, *rule.topic.positives, *rule.topic.negatives]
        ex_x = embedder.embed(examples)
        ex_y = np.array([1] * (1 + len(rule.topic.positives)) + [0] * len(rule.topic.negatives))
        lr_examples = [float(predict(logistic_regression(ex_x, ex_y), v).max()) for v in vectors]
        lr_feedback = [0.0] * len(items)
        for fold in range(args.folds):
            train = [k for k in range(len(items)) if numbers[k] != fold]
            x = np.vstack([ex_x, *[vectors[k] for k in train]])
            y = np.concatenate([ex_y, *[np.full(len(vectors[k]), labels[k]) for k in train]])
            weights = logistic_regression(x, y.astype(float))
            for k in range(len(items)):
                if numbers[k] == fold:
                    lr_feedback[k] = float(predict(weights, vectors[k]).max())
        missed = [k for k in range(len(items)) if not hit[k]]
        lost = sum(labels[k] for k in missed)
        print(f"\n== {name}: {sum(labels)} positives; the query misses {lost}")
        tiers = {"cosine": cosine, "lr-examples": lr_examples, "lr-feedback": lr_feedback}
        for tier, scores in tiers.items():
            report_tier(tier, scores, veto if tier == "cosine" else scores, hit, labels, numbers)


def report_tier(
    tier: str,
    scores: list[float],
    veto: list[float],
    hit: list[bool],
    labels: list[bool],
    numbers: list[int],
) -> None:
    """AUCs, and the pooled cross-validated P/R/F1 of the three cascades for one tier."""
    everything = range(len(labels))
    missed = [k for k in everything if not hit[k]]
    cascades: dict[str, Callable[[int, float], bool]] = {
        "query + veto": lambda k, t: hit[k] and veto[k] >= t,
        "query OR tier": lambda k, t: hit[k] or scores[k] >= t,
        "tier alone": lambda k, t: scores[k] >= t,
    }
    results = {}
    for cascade_name, decide in cascades.items():
        pooled = Counts()
        for fold in sorted(set(numbers)):
            train = [k for k in everything if numbers[k] != fold]
            test = [k for k in everything if numbers[k] == fold]
            threshold = best(train, decide, labels)
            pooled.add(counts([decide(k, threshold) for k in test], [labels[k] for k in test]))
        results[cascade_name] = pooled
    auc_all = auc(scores, labels)
    auc_missed = auc([scores[k] for k in missed], [labels[k] for k in missed])
    print(f"  {tier:<12} AUC all {auc_all:.3f}, AUC where the query missed {auc_missed:.3f}")
    for cascade_name, r in results.items():
        print(f"    {cascade_name:<14} P {r.precision:.3f} R {r.recall:.3f} F1 {r.f1:.3f}")


if __name__ == "__main__":
    main()
