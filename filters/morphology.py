"""English stemming for `~word` query terms: `~accuse` matches accused, accusing, accusation.

A `~` term holds the Snowball English ("Porter2") stem of its word, computed
by PyStemmer (the Snowball project's C stemmers); a story token matches when
its own stem is the same. Stemming is opt-in per term because it conflates
more than inflection: `~aid` also matches "aide" and "aides", `~strike`
matches "striker", and irregular forms stay apart (`~strike` does not match
"struck"). `expansions` lists the forms of a word the stem covers, built from
regular inflections, so `rules check` can show what a term reaches; the stem
also reaches derived words (accusation), which it names by the stem.

Per field, the stems of its distinct tokens are computed once (PyStemmer
also keeps its own cache of recent words) and their positions kept. A
PyStemmer object is not safe to share between threads (matching runs in a
worker thread while chat commands stem on the event loop), so each thread
has its own.
"""

from __future__ import annotations

import threading
from typing import Any

from bot.core.text import FieldTokens

STEMMER_ALGORITHM = "english"
"""Snowball's English stemmer (Porter2); chosen over the original Porter one by measurement."""

_VOWEL_SUFFIXES = ("ed", "ing")


_PER_THREAD = threading.local()


def _stemmer() -> Any:
    """This thread's stemmer."""
    found = getattr(_PER_THREAD, "stemmer", None)
    if found is None:
        import Stemmer

        found = _PER_THREAD.stemmer = Stemmer.Stemmer(STEMMER_ALGORITHM)
    return found


def stem(word: str) -> str:
    """The stem of one folded word."""
    return str(_stemmer().stemWord(word))


def stems(words: list[str]) -> list[str]:
    """The stems of folded words, in order (one call into the stemmer)."""
    return [str(found) for found in _stemmer().stemWords(words)]


def stem_positions(field: FieldTokens, wanted: str) -> list[int]:
    """Sorted positions of the tokens in `field` whose stem is `wanted`."""
    return stem_index(field).get(wanted, [])


def stem_index(field: FieldTokens) -> dict[str, list[int]]:
    """Every stem in `field` with the sorted positions of its tokens (computed once)."""
    by_stem: dict[str, list[int]] | None = field.derived.get("stems")
    if by_stem is None:
        distinct = list(field.positions)
        by_stem = {}
        for token, token_stem in zip(distinct, stems(distinct), strict=True):
            by_stem.setdefault(token_stem, []).extend(field.positions[token])
        for positions in by_stem.values():
            positions.sort()
        field.derived["stems"] = by_stem
    return by_stem


def _candidates(word: str) -> set[str]:
    """The regular inflections of `word`: -s/-es, -ed, -ing (generated, not looked up)."""
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        head = word[:-1]
        return {word, head + "ies", head + "ied", word + "ing"}
    forms = {word, word + ("es" if word.endswith(("s", "x", "z", "ch", "sh")) else "s")}
    base = word[:-1] if word.endswith("e") else word
    consonant_vowel_consonant = (
        len(word) >= 3
        and word[-1] not in "aeiouwxy"
        and word[-2] in "aeiou"
        and word[-3] not in "aeiou"
    )
    if consonant_vowel_consonant and len(word) <= 4:
        base = word + word[-1]  # stop → stopped, stopping
    forms.update(base + suffix for suffix in _VOWEL_SUFFIXES)
    return forms


def expansions(word: str, limit: int = 8) -> list[str]:
    """Common forms of `word` that share its stem, shortest first, for `rules check`."""
    target = stem(word)
    forms = [form for form in _candidates(word) if stem(form) == target]
    return sorted(forms, key=lambda form: (len(form), form))[:limit]
