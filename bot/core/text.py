"""Tokenising and folding story text for the rule language.

Rule terms and story text go through the same two functions, so a term
matches a story token exactly when both fold to the same string:

- **tokens** are runs of letters and digits; everything else separates them,
  so `drone-strike` is `drone`, `strike` and `$2.6 billion` is `2`, `6`,
  `billion`. A possessive `'s` / `’s` is dropped (`Russia's` → `russia`);
  other apostrophes split (`don't` → `don`, `t`). Combining accents
  (U+0300–U+036F) stay inside the word they decorate.
- **folding** lower-cases (Unicode casefold) and strips accents through NFKD
  (`Café` → `cafe`, `ﬁnal` → `final`). Letters without a decomposition
  (`ø`, `ł`) are kept as they are.

Every field of a story is tokenised once per story into a `FieldTokens`; the
matcher then works on token positions, and maps positions back to the
original text for the evidence it shows.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.core.model import Story

FIELDS: tuple[str, ...] = ("title", "summary", "content", "publisher", "url")
"""Every field a rule can scope a term to."""

DEFAULT_FIELDS: tuple[str, ...] = ("title", "summary", "content")
"""The fields an unscoped term searches."""

_TOKEN = re.compile(r"[^\W_](?:[^\W_]|[\u0300-\u036f])*(?:['’][sS](?![^\W_]))?")
_POSSESSIVE_LEN = 2
_ASCII_RUN = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]")
_APOSTROPHES = re.compile(r"['’‘`´]")
_NON_WORD = re.compile(r"[\W_]+")


def word_set(words: str) -> frozenset[str]:
    """A set of words written as one space-separated string, for readable word lists."""
    return frozenset(words.split())


def fold(text: str) -> str:
    """Case- and accent-fold `text` so `Café`, `CAFE` and `cafe` compare equal."""
    if text.isascii():
        return text.lower()
    stripped = "".join(
        char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char)
    )
    return stripped.casefold()


def fold_text(text: str) -> str:
    """Case-fold, strip accents, drop apostrophes, turn other punctuation into spaces.

    The shared text key for titles and fingerprints: "Trudeau’s ‘gamble’" and
    "TRUDEAUS GAMBLE" fold to the same "trudeaus gamble". Case and accents fold
    exactly as in the rule language (`fold`).
    """
    return _NON_WORD.sub(" ", _APOSTROPHES.sub("", fold(text))).strip()


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """Fold `text` and map every folded character back to its index in `text`.

    Regexes run on folded text; the offsets let a match be shown as it
    stands in the story. ASCII runs are folded in bulk, since most news text
    is ASCII apart from the odd curly quote.
    """
    if text.isascii():
        return text.lower(), list(range(len(text)))
    folded: list[str] = []
    offsets: list[int] = []
    for run in _ASCII_RUN.finditer(text):
        start, end = run.span()
        if run.group().isascii():
            folded.append(run.group().lower())
            offsets.extend(range(start, end))
        else:
            piece = fold(run.group())
            folded.append(piece)
            offsets.extend([start] * len(piece))
    return "".join(folded), offsets


@dataclass(frozen=True, slots=True)
class Token:
    """One folded token and where it stands in the original text."""

    text: str
    start: int
    end: int
    """End of the word itself; a dropped possessive `'s` is not included."""
    consumed_end: int
    """End of everything the tokeniser consumed (the word and any `'s`)."""


def _word_end(word: str, end: int) -> int:
    """Where the word itself ends: before a possessive `'s` / `’s`."""
    if word[-1] in "sS" and len(word) > _POSSESSIVE_LEN and word[-2] in "'’":
        return end - _POSSESSIVE_LEN
    return end


def iter_tokens(text: str) -> Iterator[Token]:
    """The folded tokens of `text`, in order, with their original spans."""
    for found in _TOKEN.finditer(text):
        start, consumed_end = found.span()
        end = _word_end(found.group(), consumed_end)
        folded = fold(text[start:end])
        if folded:
            yield Token(folded, start, end, consumed_end)


def scan_tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The folded tokens of `text` and their spans: `iter_tokens`, fast path for stories."""
    ascii_only = text.isascii()
    source = text.lower() if ascii_only else text
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for found in _TOKEN.finditer(source):
        start, end = found.span()
        end = _word_end(found.group(), end)
        token = source[start:end] if ascii_only else fold(source[start:end])
        if token:
            tokens.append(token)
            spans.append((start, end))
    return tokens, spans


class FieldTokens:
    """One story field, tokenised once: tokens, their spans and positions."""

    __slots__ = (
        "_folded",
        "_prefix_cache",
        "_sorted",
        "derived",
        "positions",
        "spans",
        "text",
        "tokens",
    )

    def __init__(self, text: str) -> None:
        self.text = text
        tokens, spans = scan_tokens(text)
        self.tokens: list[str] = tokens
        self.spans: list[tuple[int, int]] = spans
        self.positions: dict[str, list[int]] = {}
        for position, token in enumerate(tokens):
            found = self.positions.get(token)
            if found is None:
                self.positions[token] = [position]
            else:
                found.append(position)
        self._prefix_cache: dict[str, list[int]] = {}
        self._sorted: list[str] | None = None
        self._folded: tuple[str, list[int]] | None = None
        self.derived: dict[Hashable, Any] = {}
        """Views other modules compute once per field (entity spans, stems), by their key."""

    def positions_of(self, token: str, *, prefix: bool) -> list[int]:
        """Sorted positions of `token` (or of every token starting with it)."""
        if not prefix:
            return self.positions.get(token, [])
        cached = self._prefix_cache.get(token)
        if cached is None:
            if self._sorted is None:
                self._sorted = sorted(self.positions)
            first = bisect_left(self._sorted, token)
            found: list[int] = []
            for candidate in self._sorted[first:]:
                if not candidate.startswith(token):
                    break
                found.extend(self.positions[candidate])
            cached = sorted(found)
            self._prefix_cache[token] = cached
        return cached

    def original(self, first: int, last: int) -> str:
        """The original text from token `first` to token `last` inclusive."""
        return self.text[self.spans[first][0] : self.spans[last][1]]

    def folded(self) -> tuple[str, list[int]]:
        """The folded field text and its offsets back into the original (computed once)."""
        if self._folded is None:
            self._folded = fold_with_offsets(self.text)
        return self._folded


class StoryText:
    """Every rule-searchable field of one story, tokenised once."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields: dict[str, FieldTokens] = {
            name: FieldTokens(fields.get(name, "")) for name in FIELDS
        }

    @classmethod
    def from_story(cls, story: Story) -> StoryText:
        """Tokenise the title, summary, content, publisher and URL of a story."""
        return cls(
            {
                "title": story.title,
                "summary": story.summary,
                "content": story.content,
                "publisher": story.publisher,
                "url": story.url,
            }
        )

    def distinct_tokens(self) -> set[str]:
        """Every distinct token in any field (what the rule prefilter looks up)."""
        found: set[str] = set()
        for field_tokens in self.fields.values():
            found.update(field_tokens.positions)
        return found


MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 20_000
MAX_CONTENT_CHARS = 100_000
"""The most text of each field any later stage (dedupe, match, summarize, render) looks at.

Matching is linear in the text, but linear in a 10 MiB item is still seconds of
CPU: a news item's title, teaser and body fit well inside these, and a feed that
sends more is cut once, at a word boundary, by normalize (and the full-text
stage for the article text it fetches)."""


def bounded(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at the last space before the limit."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit // 2)
    return cut[:space] if space > 0 else cut
