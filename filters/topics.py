"""Topic scoring: how close a story comes to a rule's intent and examples.

The semantic tier of the match cascade. The query index picks candidate
rules cheaply; `TopicScorer.score` then confirms each candidate that carries
a `Topic` by embedding similarity, and keeps the best sentence as evidence.

The formula, per text unit u of the story (its title, each sentence of its
summary, and the title joined with the lead sentence, so a headline that
only makes sense with its lead is judged with it):

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
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.model import Rule, Story
from bot.summarize import split_sentences
from filters.semantic import Embedder

TOP_K = 2
"""How many of the best positive similarities are averaged per unit."""

NEGATIVE_WEIGHT = 0.5
"""How hard a unit is pushed down for each unit of similarity it has beyond its nearest positive
towards a negative."""

MAX_SENTENCES = 4
"""Sentences scored per story: the lead of a summary says what it is about, and each
sentence costs embedding time (the p99 latency is set by long live-blog summaries)."""

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
    lead_pair: bool
    """True when the last unit is the title joined with the lead sentence."""


def story_units(title: str, text: str) -> tuple[str, ...]:
    """The texts a story is judged by: title, its sentences, and title + lead sentence.

    The joined unit comes last. Sentences that repeat the title are dropped.
    """
    title = title.strip()
    sentences = [
        sentence
        for sentence in split_sentences(text)
        if len(sentence) >= MIN_SENTENCE_CHARS and sentence != title
    ][:MAX_SENTENCES]
    units = [title, *sentences] if title else sentences
    if title and sentences:
        units.append(f"{title} {sentences[0]}")
    return tuple(units)


class TopicMatrix:
    """Every topic's example vectors, laid out so all rules score in a few array operations.

    All positives (intent first) sit in one matrix and all negatives in
    another; `positive_index[r]` lists rule r's rows in the positives matrix,
    padded with a sentinel column that scores -inf, and likewise for negatives.
    """

    def __init__(self, rules: Sequence[Rule], positives: np.ndarray, negatives: np.ndarray) -> None:
        self.rows = {rule.name: row for row, rule in enumerate(rules)}
        self.thresholds = [rule.topic.threshold if rule.topic else 0.0 for rule in rules]
        self._positives = positives
        self._negatives = negatives
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
        positive_sims = _gather(units @ self._positives.T, self.positive_index[rows])
        ranked = np.sort(positive_sims, axis=2)
        nearest = ranked[:, :, -1]
        second = ranked[:, :, -2] if ranked.shape[2] > 1 else nearest
        two = self.positive_count[rows] >= TOP_K
        positive = np.where(two, (nearest + second) / 2, nearest)
        negative = _gather(units @ self._negatives.T, self.negative_index[rows]).max(axis=2)
        return np.asarray(positive - NEGATIVE_WEIGHT * np.maximum(0.0, negative - nearest))


def _padded_index(counts: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Row-index lists of consecutive blocks of `counts` rows, padded with the sentinel −1."""
    width = max([1, *counts])
    index = np.full((len(counts), width), -1, dtype=np.int64)
    start = 0
    for row, count in enumerate(counts):
        index[row, :count] = np.arange(start, start + count)
        start += count
    return index, np.asarray(counts)


def _gather(similarities: np.ndarray, index: np.ndarray) -> np.ndarray:
    """similarities[:, index] with the sentinel −1 reading as -inf (units × rules × width)."""
    padded = np.concatenate(
        [similarities, np.full((similarities.shape[0], 1), -np.inf, dtype=np.float32)], axis=1
    )
    return padded[:, index]


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
        return {
            name: _verdict(scores[:, i], self._topics.thresholds[row], units)
            for i, (name, row) in enumerate(zip(names, rows, strict=True))
        }

    def _units(self, key: str, title: str, text: str) -> _StoryUnits:
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.cache_hits += 1
            return cached
        self.cache_misses += 1
        texts = story_units(title, text) or ("",)
        units = _StoryUnits(
            texts, self._embedder.embed(texts), bool(title.strip()) and len(texts) > 2
        )
        self._cache[key] = units
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return units


def _verdict(scores: np.ndarray, threshold: float, units: _StoryUnits) -> TopicVerdict:
    """The story's verdict for one rule from its per-unit scores."""
    best = int(np.argmax(scores))
    evidence_index = best
    if units.lead_pair and best == len(units.texts) - 1:
        # The joined unit won: show whichever of title and lead says more on its own.
        evidence_index = 0 if scores[0] >= scores[1] else 1
    score = round(float(scores[best]), 4)
    return TopicVerdict(score, score >= threshold, units.texts[evidence_index])
