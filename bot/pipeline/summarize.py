"""Extractive, offline summaries: the sentences that explain why a story matched.

`summarize` picks one to three of a story's sentences (cut by
`bot.core.sentences.split_sentences`) for an alert: the
sentences that carry the rule's evidence first, then the lead, shown in their
original order, never cut mid-word and never boilerplate ("Read more", "The
post … appeared first on …").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.model import Match, Story
from bot.core.sentences import split_sentences
from bot.core.text import fold, fold_text

_SPACES = re.compile(r"\s+")

_BOILERPLATE = re.compile(
    r"^(?:read more|read the full|click here|sign up|subscribe\b|follow us|continue reading"
    r"|listen to|watch the full|download the)"
    r"|appeared first on|subscribe to our|follow us on|sign up for our|all rights reserved"
    r"|^(?:advertisement|related:|more:|see also)",
    re.IGNORECASE,
)
_ELLIPSIS = "…"


def summarize(
    story: Story, matches: Sequence[Match], *, max_chars: int = 400, max_sentences: int = 3
) -> str:
    """A short extractive summary of `story` for an alert, at most `max_chars` long.

    Sentences come from the content, else the summary, else the title. Those
    that contain a rule's evidence (hit texts, evidence sentence) are chosen
    first so the reader sees why the alert fired; the lead fills the rest.
    Chosen sentences keep their original order. A single over-long sentence is
    trimmed at a word boundary and ends with "…".
    """
    if max_chars < 1 or max_sentences < 1:
        raise ValueError("summarize: max_chars and max_sentences must be at least 1")
    sentences = _candidate_sentences(story)
    if not sentences:
        return _trim_to_words(_SPACES.sub(" ", story.title).strip(), max_chars)
    budget = _Budget(max_chars=max_chars, max_sentences=max_sentences)
    evidence = _evidence_ranking(sentences, _evidence_phrases(matches))
    for index in evidence:
        budget.take(index, sentences[index])
    for index, sentence in enumerate(sentences):
        if index not in budget.chosen and not budget.take(index, sentence):
            break  # the lead is read in order: never skip ahead to a short later line
    if not budget.chosen:
        return _trim_to_words(sentences[(evidence or [0])[0]], max_chars)
    return " ".join(sentences[index] for index in sorted(budget.chosen))


@dataclass
class _Budget:
    """The sentences chosen so far, within a character and sentence budget."""

    max_chars: int
    max_sentences: int
    chosen: list[int] = field(default_factory=list)
    length: int = 0

    def take(self, index: int, sentence: str) -> bool:
        """Choose the sentence if it fits; say whether it did."""
        extra = len(sentence) + (1 if self.chosen else 0)
        if len(self.chosen) >= self.max_sentences or self.length + extra > self.max_chars:
            return False
        self.chosen.append(index)
        self.length += extra
        return True


def _candidate_sentences(story: Story) -> list[str]:
    """The story's sentences without boilerplate or a repeat of the title."""
    source = story.content if story.content.strip() else story.summary
    if not source.strip():
        source = story.title
    title = fold_text(story.title)
    return [
        sentence
        for sentence in split_sentences(source)
        if not _BOILERPLATE.search(sentence)
        and (fold_text(sentence) != title or source == story.title)
    ]


def _evidence_phrases(matches: Sequence[Match]) -> dict[str, re.Pattern[str]]:
    """Folded texts that explain the matches (hits, evidence), with whole-word patterns."""
    phrases = {_fold(hit.text) for match in matches for hit in match.hits}
    phrases.update(_fold(match.evidence) for match in matches if match.evidence)
    return {
        phrase: re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)") for phrase in phrases if phrase
    }


def _evidence_ranking(sentences: Sequence[str], phrases: dict[str, re.Pattern[str]]) -> list[int]:
    """Indexes of sentences carrying evidence, the most distinct evidence first.

    A sentence carries a phrase when it contains it as whole words, or when it
    is part of a longer evidence passage.
    """
    counts: dict[int, int] = {}
    for index, sentence in enumerate(sentences):
        folded = _fold(sentence)
        count = sum(1 for text, word in phrases.items() if word.search(folded) or folded in text)
        if count:
            counts[index] = count
    return sorted(counts, key=lambda index: (-counts[index], index))


def _trim_to_words(text: str, max_chars: int) -> str:
    """`text` cut to `max_chars` at a word boundary, with "…" when something was cut."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - len(_ELLIPSIS) + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space > 0 else cut[: max_chars - len(_ELLIPSIS)]
    return cut.rstrip(" ,;:-–—") + _ELLIPSIS


def _fold(text: str) -> str:
    """Case-, accent- and whitespace-folded text for containment checks."""
    return " ".join(fold(text).split())
