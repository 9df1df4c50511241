"""Sentences: the one sentence splitter, for summaries, topics and fingerprints.

`split_sentences` cuts feed text into sentences without tripping on the
abbreviations, initials, decimals, quotes and missing spaces that news feeds
are full of; `lead_sentence` is the first of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.core.text import word_set as _word_set

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
_WORD_WINDOW = 64


def split_sentences(text: str) -> list[str]:
    """Split plain text into sentences, keeping each sentence's own punctuation.

    Paragraph breaks and bullets always end a sentence. A full stop, "?" or "!"
    (optionally inside closing quotes) ends one when the next word starts a
    sentence and the word before it is not an abbreviation, an initial or a
    number, so "U.S. Sen. J. R. Smith said $2.6 billion." stays whole.
    """
    return list(iter_sentences(text))


def iter_sentences(text: str) -> Iterator[str]:
    """The sentences of `split_sentences`, cut lazily as they are read.

    For callers that need only the first few (a lead, a title): a 20,000
    character summary is not split beyond the sentences they take.
    """
    for block in _HARD_BREAK.split(text):
        yield from (piece for piece in _split_block(_SPACES.sub(" ", block).strip()) if piece)


def _split_block(block: str) -> Iterator[str]:
    """Cut one paragraph (whitespace already collapsed) at sentence ends, in order.

    Each candidate is judged by the word before it and the word after it,
    read at their positions in `block`: never a copy of the text before or
    after the mark, which made a paragraph of n characters cost n² (a 20,000
    character summary took ~0.2 s, half the cold poll's CPU).
    """
    start = 0
    for candidate in _CANDIDATE.finditer(block):
        if _ends_sentence(block, candidate):
            yield block[start : candidate.end()].strip()
            start = candidate.end()
    yield block[start:].strip()


def _ends_sentence(block: str, candidate: re.Match[str]) -> bool:
    """Whether the punctuation at `candidate` closes a sentence."""
    end = candidate.end()
    if end >= len(block):
        return False
    next_word = _NEXT_WORD.match(block, end)
    following = next_word.group(1) if next_word else ""
    if not following or not (following[0].isupper() or following[0].isdigit()):
        return False
    spaced = block[end].isspace()
    if not spaced and not _may_end_unspaced(block, candidate.start(), following):
        return False
    mark = candidate.group(0)
    if mark[0] != "." or mark.startswith("..."):
        return True
    return _period_ends_sentence(_word_before(block, candidate.start()), following)


def _may_end_unspaced(block: str, mark: int, following: str) -> bool:
    """'end.Next' in feeds that drop the space: only after a lower-case word."""
    return mark > 0 and block[mark - 1].islower() and following[0].isupper()


def _word_before(block: str, mark: int) -> str:
    """The run of word characters, dots, apostrophes and hyphens ending at `mark`.

    The search starts a bounded window before the mark (a pattern anchored at
    the end is otherwise tried from every earlier position); a run that fills
    the window is looked up again from the start of the block.
    """
    low = max(0, mark - _WORD_WINDOW)
    found = _WORD_BEFORE.search(block, low, mark)
    if found and found.start() == low and low > 0:
        found = _WORD_BEFORE.search(block, 0, mark)
    return found.group(0) if found else ""


def _period_ends_sentence(word_before: str, following: str) -> bool:
    """Decide a full stop by the word it ends and the word that follows."""
    word = word_before.lstrip("'’-")
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


def lead_sentence(text: str) -> str:
    """The first sentence of `text` ("" when it has none)."""
    return next(iter_sentences(text), "")
