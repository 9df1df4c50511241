"""Topic scoring: how close a story comes to a rule's intent and examples.

The semantic tier of the match cascade. The query index picks candidate
rules cheaply; `TopicScorer.score` then confirms each candidate that carries
a `Topic` by embedding similarity, and keeps the best sentence as evidence.

The formula, per text unit u of the story (its title and each of the first
MAX_SENTENCES distinct sentences of its summary):

    pos(u)     = mean of the TOP_K highest cosines between u and the topic's
                 positives (the intent counts as one more positive)
    nearest(u) = the highest of those cosines
    neg(u)     = the highest cosine between u and the topic's negatives
    unit(u)    = pos(u) − NEGATIVE_WEIGHT · max(0, neg(u) − nearest(u))

    score(story) = max over units of unit(u);  matched = score ≥ threshold

Averaging the top two positives rather than taking one rewards a unit that
resembles the topic in more than one way and damps a lucky single match.
A negative only counts when the unit is closer to it than to every positive,
so a negative example ("drone light show") pushes away the stories that look
like it and leaves the scale, and so the threshold, unchanged for the rest:
admins can add negatives from "Not relevant" clicks without re-tuning.
Every sentence counts as much as the title, because a live-blog summary
often carries the event in a secondary sentence.

Each unit costs one encoder pass over its tokens, so the units are kept
few: title + lead joined into one more unit used to cost 44% of the tokens
embedded on the dev set and, at the thresholds in force, lowered F1 on every
seed rule (benchmarks/topics.md), so the title and the lead are judged apart.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.model import Rule, Story
from bot.core.sentences import split_sentences
from filters.semantic import Embedder

TOP_K = 2
"""How many of the best positive similarities are averaged per unit."""

NEGATIVE_WEIGHT = 0.5
"""How hard a unit is pushed down for each unit of similarity it has beyond its nearest positive
towards a negative."""

MAX_SENTENCES = 3
"""Sentences scored per story: the lead of a summary says what it is about, and each
sentence costs embedding time (the p99 latency is set by long live-blog summaries).
A fourth sentence did not change F1 on the dev set."""

MIN_SENTENCE_CHARS = 12
"""Shorter fragments ("Read more.", "Photo: AP") carry no topic."""

DEFAULT_CACHE_SIZE = 2048
"""Stories whose embeddings are kept; a poll sees far fewer new stories than this."""


@dataclass(frozen=True, slots=True)
class TopicVerdict:
    """How well a story fits one rule's topic, and the sentence that shows it."""

    score: float
    matched: bool
    evidence: str


@dataclass(frozen=True, slots=True)
class _StoryUnits:
    texts: tuple[str, ...]
    vectors: np.ndarray


def story_units(title: str, text: str) -> tuple[str, ...]:
    """The texts a story is judged by: its title, then its first distinct sentences.

    Fragments shorter than MIN_SENTENCE_CHARS, sentences that repeat the title
    and repeated sentences are dropped; at most MAX_SENTENCES are kept.
    """
    title = title.strip()
    sentences = [
        sentence
        for sentence in dict.fromkeys(split_sentences(text))
        if len(sentence) >= MIN_SENTENCE_CHARS and sentence != title
    ][:MAX_SENTENCES]
    return (title, *sentences) if title else tuple(sentences)


class TopicMatrix:
    """Every topic's example vectors, laid out so all rules score in a few array operations.

    All positives (intent first) sit in one matrix and all negatives in
    another, each followed by a sentinel row; `positive_index[r]` lists rule
    r's rows in the positives matrix, padded with the sentinel row (which
    scores -inf), and likewise for negatives.
    """

    def __init__(self, rules: Sequence[Rule], positives: np.ndarray, negatives: np.ndarray) -> None:
        self.rows = {rule.name: row for row, rule in enumerate(rules)}
        self.thresholds = [rule.topic.threshold if rule.topic else 0.0 for rule in rules]
        self._positives = _with_sentinel_row(positives)
        self._negatives = _with_sentinel_row(negatives)
        self.positive_index, self.positive_count = _padded_index(
            [1 + len(rule.topic.positives) if rule.topic else 0 for rule in rules]
        )
        self.negative_index, _ = _padded_index(
            [len(rule.topic.negatives) if rule.topic else 0 for rule in rules]
        )

    @classmethod
    def build(cls, embedder: Embedder, rules: Sequence[Rule]) -> TopicMatrix:
        """Embed every rule's intent, positives and negatives (two batches in all)."""
        positives = [t for r in rules if r.topic for t in (r.topic.intent, *r.topic.positives)]
        negatives = [t for r in rules if r.topic for t in r.topic.negatives]
        return cls(rules, embedder.embed(positives), embedder.embed(negatives))

    def unit_scores(self, units: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scores (units × len(rows)) by the formula of the module docstring."""
        positive_sims = _similarities(self._positives, units)[:, self.positive_index[rows]]
        width = positive_sims.shape[2]
        if width >= TOP_K:
            # Only the two best matter: a partial partition, not a sort, of each rule's row.
            best_two = np.partition(positive_sims, width - TOP_K, axis=2)
            nearest, second = best_two[:, :, -1], best_two[:, :, -2]
        else:
            nearest = second = positive_sims[:, :, -1]
        two = self.positive_count[rows] >= TOP_K
        positive = np.where(two, (nearest + second) / 2, nearest)
        negative_sims = _similarities(self._negatives, units)[:, self.negative_index[rows]]
        negative = negative_sims.max(axis=2)
        return np.asarray(positive - NEGATIVE_WEIGHT * np.maximum(0.0, negative - nearest))


def _with_sentinel_row(vectors: np.ndarray) -> np.ndarray:
    """`vectors` (rows × dimensions, possibly no rows) with one more row, at index −1."""
    sentinel = np.zeros((1, vectors.shape[1]), dtype=np.float32)
    return np.vstack([vectors.astype(np.float32), sentinel])


def _similarities(examples: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Cosines units × examples, with the sentinel (last) column at -inf.

    Computed as (examples @ units.T).T: with few units and many example rows
    that order runs about twice as fast in BLAS as units @ examples.T.
    """
    similarities = np.ascontiguousarray((examples @ units.T).T)
    similarities[:, -1] = -np.inf
    return similarities


def _padded_index(counts: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Row-index lists of consecutive blocks of `counts` rows, padded with the sentinel −1."""
    width = max([1, *counts])
    index = np.full((len(counts), width), -1, dtype=np.int64)
    start = 0
    for row, count in enumerate(counts):
        index[row, :count] = np.arange(start, start + count)
        start += count
    return index, np.asarray(counts)


class TopicScorer:
    """Scores stories against the topics of a set of rules, reusing story embeddings.

    Topic vectors are computed once here; a story is embedded once (all its
    units in one batch) and cached by key in a bounded LRU, so scoring it
    against more rules later costs only matrix products.
    """

    def __init__(
        self, embedder: Embedder, rules: Iterable[Rule], *, cache_size: int = DEFAULT_CACHE_SIZE
    ) -> None:
        self._embedder = embedder
        self._topics = TopicMatrix.build(embedder, [r for r in rules if r.topic is not None])
        self._cache: OrderedDict[str, _StoryUnits] = OrderedDict()
        self._cache_lock = threading.Lock()
        """Stories are scored in a worker thread and by chat commands on the loop."""
        self._cache_size = cache_size
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def rule_names(self) -> frozenset[str]:
        """The rules this scorer has a topic for."""
        return frozenset(self._topics.rows)

    def score(self, story: Story, rule_names: Iterable[str]) -> dict[str, TopicVerdict]:
        """Verdicts for the named rules that carry a topic; other names are left out.

        The story is judged by its title and its summary (its content when the
        summary is empty).
        """
        return self.score_text(story.key, story.title, story.summary or story.content, rule_names)

    def score_text(
        self, key: str, title: str, text: str, rule_names: Iterable[str]
    ) -> dict[str, TopicVerdict]:
        """`score` on plain strings (for evaluation); `key` identifies the text in the cache."""
        names = [name for name in dict.fromkeys(rule_names) if name in self._topics.rows]
        if not names:
            return {}
        units = self._units(key, title, text)
        rows = np.array([self._topics.rows[name] for name in names])
        scores = self._topics.unit_scores(units.vectors, rows)
        best = scores.argmax(axis=0)
        best_scores = scores[best, np.arange(len(names))].tolist()
        verdicts = {}
        for name, row, unit, raw in zip(names, rows, best, best_scores, strict=True):
            score = round(raw, 4)
            verdicts[name] = TopicVerdict(
                score, score >= self._topics.thresholds[row], units.texts[unit]
            )
        return verdicts

    def _units(self, key: str, title: str, text: str) -> _StoryUnits:
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.cache_hits += 1
                return cached
            self.cache_misses += 1
        texts = story_units(title, text) or ("",)
        units = _StoryUnits(texts, self._embedder.embed(texts))  # outside the lock: slow
        with self._cache_lock:
            self._cache[key] = units
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return units
