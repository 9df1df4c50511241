"""Near-duplicate detection: the same event reported twice, by one outlet or by several.

Two signals, both computed from a story's title and the first two sentences of
its summary (the "lead", `story_lead`):

1. **SimHash** (`fingerprint`): a 64-bit locality-sensitive hash over word
   unigrams and bigrams of the folded text, stored as a signed 64-bit int so it
   fits a BIGINT column. Reworded copies of one item (a feed re-titling its
   story, a syndicated copy) land within a few bits of each other.
2. **Salient-term overlap** (`same_event_terms`): outlets word the same event
   differently ("US admits it killed civilians in Kabul drone attack" vs "'It was
   a mistake': US military general on Kabul drone strike"), which SimHash does
   not see (cross-outlet pairs of one event sit 11–37 bits apart, like unrelated
   pairs). So we compare salient terms (stop words and newsroom filler removed,
   numbers kept, crudely stemmed) of the titles and of title + lead.

Two stories are near-duplicates when published within WINDOW (48 h) of each
other and either signal fires. Measured on the corpus (see
tests/test_fingerprint.py for the labelled pairs):

* SimHash at MAX_DISTANCE 3: of 216,352 same-window pairs in the whole corpus
  only 1 pair is within 8 bits (an identical Al Jazeera title under two video
  ids, distance 0); next nearest are 9 and 11 bits (different stories). So
  SimHash only catches verbatim copies, and never merges distinct stories.
* Salient terms: on 71 labelled same-event pairs (30 events, 2–4 outlets each)
  and 2,889 labelled different-story pairs in the same window (incl. 40 hard
  same-topic ones: AUKUS fallout, Petito case, Kabul strike follow-ups, NPR
  aid-bill and Iran coverage), it finds 37/71 same-event pairs (52 %) with 0
  false merges. Over the whole corpus it flags 71 pairs; reading them, about
  60 are the same event, ~11 are related-but-different (e.g. "Tropical Storm
  Rose forms" vs "Tropical Storm Peter forms", an obituary vs a cartoon on the
  same death, a news story vs an op-ed on it).

Missed pairs are mostly headlines with no words in common ("US steps up plan
to expel Haitian migrants" vs "Biden to begin 'deportation blitz' to Haiti");
they stay separate alerts, which we prefer to losing a different story.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import sys
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.model import Story
from bot.core.sentences import iter_sentences
from bot.core.text import fold_text
from bot.core.text import word_set as _word_set

MAX_DISTANCE = 3
"""Hamming distance at or below which two SimHashes are the same item."""
# The salient-term thresholds (see same_event_terms), tuned on the labelled corpus pairs.
MIN_TITLE_TERMS = 3
MIN_TITLE_OVERLAP = 0.5
MIN_TEXT_OVERLAP = 0.4
MIN_TEXT_TERMS = 8
MIN_STRONG_TEXT_OVERLAP = 0.6
EXPLAINER_OPENINGS = frozenset(
    {
        ("what", "we", "know"), ("what", "to", "know"), ("heres", "what"), ("heres", "how"),
        ("heres", "whats"), ("whats",), ("here", "is", "what"), ("who", "is"), ("who", "was"),
        ("what", "is"), ("what", "are"),
        ("why",), ("how",), ("explainer",), ("analysis",), ("opinion",), ("comment",),
    }
)  # fmt: skip
"""Title openings (folded words) of explainers and comment, which are stories of their own."""
LEAD_SENTENCES = 2
"""How many of the summary's first sentences make the lead both signals read."""
LEADS_CACHED = 2048
"""Leads kept by `story_lead`: a queued group's new stories (hundreds on a cold start)."""
WINDOW = timedelta(hours=48)
"""Stories further apart than this are never merged: a new event, however alike."""

_MASK = (1 << 64) - 1
_SIGN_BIT = 1 << 63


_STOP_WORDS = _word_set(
    """a about above after again against all also am an and any are as at be been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours
    says said say saying told tells tell new news report reports reported according
    live watch video update updates breaking latest opinion analysis explained know
    whats heres hows day week year years today yesterday amid after first
    us"""
)
_NUMBER_NAMES = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_NUMBER_NAMES)}


@functools.lru_cache(maxsize=LEADS_CACHED)
def story_lead(summary: str) -> str:
    """The lead both signals read: the summary's first LEAD_SENTENCES sentences.

    Two, not one: a lead cut after its first sentence loses the quote or the
    name that a second outlet's lead shares (measured on the labelled pairs:
    35 of 71 found with one sentence, 37 with two or three, no false merges).

    Cached: a new story's lead is read for its SimHash and again for its salient
    terms when the batch is grouped (the splitter reads the whole summary).
    """
    return " ".join(itertools.islice(iter_sentences(summary), LEAD_SENTENCES))


def fingerprint(title: str, lead: str) -> int:
    """The signed 64-bit SimHash of a story's title and lead sentence.

    Each unigram and bigram of the folded words votes on every bit with its
    64-bit BLAKE2b hash; a bit is set where the votes are positive.
    """
    words = fold_text(f"{title} {lead}").split()
    shingles = words + [f"{first} {second}" for first, second in itertools.pairwise(words)]
    if not shingles:
        return 0
    digests = b"".join([hashlib.blake2b(s.encode(), digest_size=8).digest() for s in shingles])
    majority = len(shingles) / 2
    masks = _byte_masks(len(shingles))
    unsigned = 0
    # Byte `position` of every digest, as one integer: the shingles setting bit `bit`
    # of that byte are the set bits of `column & masks[bit]` (64 popcounts, no loop
    # over the shingles in Python). Digests are big-endian: byte 0 holds bits 63–56.
    for position in range(8):
        column = int.from_bytes(digests[position::8], "big")
        shift = 8 * (7 - position)
        for bit, mask in enumerate(masks):
            if (column & mask).bit_count() > majority:
                unsigned |= 1 << (shift + bit)
    return unsigned - (1 << 64) if unsigned & _SIGN_BIT else unsigned


_MASK_BYTES = 4096
"""Shingles covered by the precomputed byte masks (a title and a two-sentence
lead have ~80; longer texts build their own)."""


def _masks_of(length: int) -> tuple[int, ...]:
    """For each bit of a byte, the integer of `length` bytes with only that bit set."""
    return tuple(int.from_bytes(bytes([1 << bit]) * length, "big") for bit in range(8))


_BYTE_MASKS = _masks_of(_MASK_BYTES)


def _byte_masks(length: int) -> tuple[int, ...]:
    return _BYTE_MASKS if length <= _MASK_BYTES else _masks_of(length)


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit fingerprints (signed or not)."""
    return ((a ^ b) & _MASK).bit_count()


def salient_terms(text: str) -> frozenset[str]:
    """The content words and numbers of `text`, stemmed, without stop words or filler.

    Terms are interned: the near-duplicate index holds the terms of every story
    of the window, and most terms recur across stories.
    """
    terms = set()
    for word in fold_text(text).split():
        if word in _STOP_WORDS:
            continue
        if word in _NUMBER_WORDS or word.isdigit():
            terms.add(sys.intern(_NUMBER_WORDS.get(word, word)))
        elif len(word) > 1:
            terms.add(sys.intern(_stem(word)))
    return frozenset(terms)


def _stem(word: str) -> str:
    """A crude English stem so "strikes"/"strike" and "killed"/"kills" compare equal."""
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def overlap(a: Collection[str], b: Collection[str]) -> tuple[int, float]:
    """How many terms two sets of terms (or tuples of distinct terms) share, and
    what share of the smaller one that is."""
    if not a or not b:
        return 0, 0.0
    shared = len(set(a).intersection(b))
    return shared, shared / min(len(a), len(b))


def same_event_terms(a: Story, b: Story) -> bool:
    """The salient-term signal: do the titles (and leads) name the same event?

    Either the titles share MIN_TITLE_TERMS terms covering MIN_TITLE_OVERLAP of
    the shorter title and title + lead overlap by MIN_TEXT_OVERLAP, or title +
    lead share MIN_TEXT_TERMS terms covering MIN_STRONG_TEXT_OVERLAP. Explainers
    ("What we know…", "Here's what's in…", "Analysis: …") never merge: they are
    separate stories; nor do titles whose numbers all disagree.
    """
    return _same_event(event_terms(a.title, a.summary), event_terms(b.title, b.summary))


def _same_event(terms_a: EventTerms | None, terms_b: EventTerms | None) -> bool:
    """`same_event_terms` on terms already extracted (None: an explainer, never merged)."""
    if terms_a is None or terms_b is None:
        return False
    numbers_a, numbers_b = terms_a.numbers, terms_b.numbers
    if numbers_a and numbers_b and not set(numbers_a).intersection(numbers_b):
        return False  # both titles give numbers and none agree ("aged 79" vs "81")
    titles = overlap(terms_a.title, terms_b.title)
    texts = overlap(terms_a.text, terms_b.text)
    if titles[0] >= MIN_TITLE_TERMS and titles[1] >= MIN_TITLE_OVERLAP:
        return texts[1] >= MIN_TEXT_OVERLAP
    return texts[0] >= MIN_TEXT_TERMS and texts[1] >= MIN_STRONG_TEXT_OVERLAP


@dataclass(frozen=True, slots=True)
class EventTerms:
    """Salient terms of a title, and of title + lead together (each term once).

    Tuples, not sets: the near-duplicate index keeps these for every story of
    the window, and a tuple of ten terms is 120 bytes where a frozenset is ~700.
    Two stories that `same_event_terms` can merge share at least
    MIN_TITLE_TERMS `text` terms, which lets callers index candidates by term.
    """

    title: tuple[str, ...]
    text: tuple[str, ...]
    numbers: tuple[str, ...] = ()
    """The title's numbers: when two titles both give some and none agree ("part
    one" vs "part two", "aged 79" vs "81"), they are different stories."""


@functools.lru_cache(maxsize=16384)
def event_terms(title: str, summary: str) -> EventTerms | None:
    """A story's salient terms, or None for explainers and comment (their own stories).

    Cached because dedup compares every new story with many recent ones, and
    the near-duplicate index reads back the stories a batch has just saved.
    """
    words = tuple(fold_text(title).split()[:3])
    if any(words[:length] in EXPLAINER_OPENINGS for length in (1, 2, 3)):
        return None
    title_terms = tuple(salient_terms(title))
    text = tuple(salient_terms(f"{title} {story_lead(summary)}"))
    numbers = tuple(term for term in title_terms if term.isdigit())
    return EventTerms(title=title_terms, text=text, numbers=numbers or ())


def fingerprint_bands(value: int) -> tuple[int, ...]:
    """The four 16-bit bands of a fingerprint, tagged by position.

    Fingerprints within MAX_DISTANCE (3) bits share at least one band exactly
    (pigeonhole), so equal bands find every SimHash near-duplicate candidate.
    """
    unsigned = value & _MASK
    return tuple((band << 16) | (unsigned >> (16 * band) & 0xFFFF) for band in range(4))


@dataclass(frozen=True, slots=True)
class EventSignature:
    """All that near-duplicate matching reads of a story: no text, only its
    publication time, SimHash and salient terms (None for an explainer).

    What the near-duplicate index keeps per story instead of the whole Story.
    """

    published: datetime
    fingerprint: int
    terms: EventTerms | None


def event_signature(story: Story) -> EventSignature:
    """The signature of a story (its terms from the cached `event_terms`)."""
    return EventSignature(
        story.published, story.fingerprint, event_terms(story.title, story.summary)
    )


def is_near_duplicate(a: Story, b: Story, max_distance: int = MAX_DISTANCE) -> bool:
    """Whether `a` and `b` report the same event: published within WINDOW of each
    other and either SimHashes within `max_distance` bits or `same_event_terms`."""
    return signatures_match(event_signature(a), event_signature(b), max_distance)


def signatures_match(
    a: EventSignature, b: EventSignature, max_distance: int = MAX_DISTANCE
) -> bool:
    """`is_near_duplicate` on signatures: the same decision from the same fields."""
    if abs(a.published - b.published) > WINDOW:
        return False
    if a.fingerprint and b.fingerprint and hamming(a.fingerprint, b.fingerprint) <= max_distance:
        return True
    return _same_event(a.terms, b.terms)
