"""Extractive, offline summaries: the sentences that explain why a story matched.

`split_sentences` cuts feed text into sentences without tripping on the
abbreviations, initials, decimals, quotes and missing spaces that news feeds
are full of. `summarize` then picks one to three of them for an alert: the
sentences that carry the rule's evidence first, then the lead, shown in their
original order, never cut mid-word and never boilerplate ("Read more", "The
post … appeared first on …").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.model import Match, Story
from filters.fingerprint import fold_text


def _word_set(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string, for readable word lists."""
    return frozenset(words.split())


# Abbreviations that never end a sentence (compared case-folded, without the final dot).
_TITLE_ABBREVIATIONS = _word_set(
    "mr mrs ms messrs dr prof gen lt col maj capt cmdr adm sgt cpl pvt sen rep gov "
    "rev hon pres supt insp det st mt ft jr sr no nos vs v e.g i.e cf approx "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
# Abbreviations that end a sentence only when the next word starts a new one.
_AMBIGUOUS_ABBREVIATIONS = _word_set("inc corp co ltd etc al bros")
# Words that, after "U.S." or "a.m.", show that a new sentence has started.
_SENTENCE_STARTERS = _word_set(
    "the a an he she it they we i you his her its their our this that these those "
    "there but and so yet in on at after before when while if as for since then "
    "however meanwhile"
)
_TIME_WORDS = _word_set(
    "monday tuesday wednesday thursday friday saturday sunday et est edt pt pst pdt "
    "ct cst cdt gmt utc bst local"
)
_CANDIDATE = re.compile(r"(?:\.{3}|…|[.!?])+[\"'”’»)\]]*")
_WORD_BEFORE = re.compile(r"[\w.'’-]+$")
_NEXT_WORD = re.compile(r"\s*[\"'“‘«(\[]*([\w.'’-]*)")
_DOTTED_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]$", re.IGNORECASE)
_HARD_BREAK = re.compile(r"\n\s*\n|[•·▪●]\s*|\s+[|]\s+")
_SPACES = re.compile(r"\s+")


def split_sentences(text: str) -> list[str]:
    """Split plain text into sentences, keeping each sentence's own punctuation.

    Paragraph breaks and bullets always end a sentence. A full stop, "?" or "!"
    (optionally inside closing quotes) ends one when the next word starts a
    sentence and the word before it is not an abbreviation, an initial or a
    number, so "U.S. Sen. J. R. Smith said $2.6 billion." stays whole.
    """
    sentences: list[str] = []
    for block in _HARD_BREAK.split(text):
        sentences.extend(_split_block(_SPACES.sub(" ", block).strip()))
    return [sentence for sentence in sentences if sentence]


def _split_block(block: str) -> list[str]:
    """Split one paragraph (whitespace already collapsed) at sentence ends."""
    pieces: list[str] = []
    start = 0
    for candidate in _CANDIDATE.finditer(block):
        if _ends_sentence(block, candidate):
            pieces.append(block[start : candidate.end()].strip())
            start = candidate.end()
    pieces.append(block[start:].strip())
    return pieces


def _ends_sentence(block: str, candidate: re.Match[str]) -> bool:
    """Whether the punctuation at `candidate` closes a sentence."""
    after = block[candidate.end() :]
    if not after.strip():
        return False
    spaced = after[0].isspace()
    next_word = _NEXT_WORD.match(after)
    following = next_word.group(1) if next_word else ""
    if not following or not (following[0].isupper() or following[0].isdigit()):
        return False
    if not spaced and not _may_end_unspaced(block, candidate, following):
        return False
    mark = candidate.group(0)
    if mark[0] != "." or mark.startswith("..."):
        return True
    return _period_ends_sentence(block[: candidate.start()], following)


def _may_end_unspaced(block: str, candidate: re.Match[str], following: str) -> bool:
    """'end.Next' in feeds that drop the space: only after a lower-case word."""
    before = block[: candidate.start()]
    return bool(before) and before[-1].islower() and following[0].isupper()


def _period_ends_sentence(before: str, following: str) -> bool:
    """Decide a full stop by the word it ends and the word that follows."""
    found = _WORD_BEFORE.search(before)
    word = found.group(0).lstrip("'’-") if found else ""
    folded = word.casefold()
    if not word:
        return True
    if word[-1].isdigit() and following[0].isdigit():
        return False
    if len(word) == 1 and word.isupper():
        return False  # an initial, as in "J. R. R. Tolkien"
    if folded in _TITLE_ABBREVIATIONS:
        return folded == "no" and not following[0].isdigit()
    next_folded = following.casefold().rstrip(".")
    if folded in ("a.m", "p.m"):
        return next_folded not in _TIME_WORDS
    if _DOTTED_ACRONYM.fullmatch(word) or folded in _AMBIGUOUS_ABBREVIATIONS:
        return next_folded in _SENTENCE_STARTERS
    return True


# ── summaries ───────────────────────────────────────────────────────────────

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
    """Case- and whitespace-folded text for containment checks."""
    return _SPACES.sub(" ", text).strip().casefold()
