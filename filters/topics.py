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

MAX_SENTENCES = 8
"""Sentences scored per story: the lead of a summary says what it is about."""

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
class _TopicVectors:
    positives: np.ndarray
    negatives: np.ndarray
    threshold: float


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
        self._topics = _embed_topics(embedder, [r for r in rules if r.topic is not None])
        self._cache: OrderedDict[str, _StoryUnits] = OrderedDict()
        self._cache_size = cache_size
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def rule_names(self) -> frozenset[str]:
        """The rules this scorer has a topic for."""
        return frozenset(self._topics)

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
        units = self._units(key, title, text)
        verdicts: dict[str, TopicVerdict] = {}
        for name in rule_names:
            topic = self._topics.get(name)
            if topic is not None:
                verdicts[name] = _verdict(topic, units)
        return verdicts

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


def _embed_topics(embedder: Embedder, rules: Sequence[Rule]) -> dict[str, _TopicVectors]:
    """Embed every rule's intent, positives and negatives in one batch."""
    texts: list[str] = []
    spans: list[tuple[Rule, int, int, int]] = []
    for rule in rules:
        assert rule.topic is not None
        start = len(texts)
        texts.extend([rule.topic.intent, *rule.topic.positives])
        middle = len(texts)
        texts.extend(rule.topic.negatives)
        spans.append((rule, start, middle, len(texts)))
    vectors = embedder.embed(texts)
    return {
        rule.name: _TopicVectors(
            vectors[start:middle], vectors[middle:end], rule.topic.threshold if rule.topic else 0.0
        )
        for rule, start, middle, end in spans
    }


def _unit_scores(topic: _TopicVectors, vectors: np.ndarray) -> np.ndarray:
    """The formula of the module docstring, for every unit at once."""
    similarities = vectors @ topic.positives.T
    k = min(TOP_K, similarities.shape[1])
    positive = np.sort(similarities, axis=1)[:, -k:].mean(axis=1)
    if topic.negatives.shape[0] == 0:
        return np.asarray(positive)
    nearest = similarities.max(axis=1)
    negative = (vectors @ topic.negatives.T).max(axis=1)
    return np.asarray(positive - NEGATIVE_WEIGHT * np.maximum(0.0, negative - nearest))


def _verdict(topic: _TopicVectors, units: _StoryUnits) -> TopicVerdict:
    scores = _unit_scores(topic, units.vectors)
    best = int(np.argmax(scores))
    evidence_index = best
    if units.lead_pair and best == len(units.texts) - 1:
        # The joined unit won: show whichever of title and lead says more on its own.
        evidence_index = 0 if scores[0] >= scores[1] else 1
    score = round(float(scores[best]), 4)
    return TopicVerdict(score, score >= topic.threshold, units.texts[evidence_index])
