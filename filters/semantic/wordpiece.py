"""BERT's WordPiece tokenizer in plain Python, reading the model's tokenizer.json.

It reproduces the `tokenizers` pipeline that tokenizer.json describes for the
shipped model (BertNormalizer with clean_text, handle_chinese_chars and
lowercase, accents stripped; BertPreTokenizer; WordPiece with `##`; the five
special tokens matched in the raw text; [CLS] … [SEP] around the truncated
pieces) and gives the same ids: tests/test_wordpiece.py compares the two on the
labelled texts and on every Unicode code point.

Why not `tokenizers` itself: importing it and loading this vocabulary kept
13 MB resident beside onnxruntime, a dict of the same vocabulary 3.7 MB, and
the topic tier is the part of the service over its memory target
(benchmarks/topics.md, "Resident memory of the tier"). Tokenising a story's
few short texts in Python costs tens of microseconds against milliseconds of
inference.

Python's `unicodedata` (Unicode 14 on Python 3.11) classifies characters by a
newer Unicode than the tables inside `tokenizers` 0.23: `TOKENIZERS_CLASSES`
lists the 503 code points where the two disagree, with the class that
`tokenizers` gives them (read off it by tools: every code point was compared).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from filters.semantic.errors import SemanticUnavailableError

WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Unicode's White_Space property (Rust's `char::is_whitespace`), not Python's `str.isspace`."""

CHINESE_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
"""The CJK ideograph blocks BERT puts spaces around (tokenizers' `is_chinese_char`)."""

PLAIN, PUNCT, DELETED = "plain", "punct", "deleted"
"""How the pipeline treats a character: part of a word, a word of its own, or dropped."""

TOKENIZERS_CLASSES: tuple[tuple[int, int, str], ...] = (
    (0x061D, 0x061D, PLAIN),
    (0x07FD, 0x07FD, PLAIN),
    (0x0890, 0x0891, PLAIN),
    (0x0898, 0x089F, PLAIN),
    (0x08CA, 0x08E2, PLAIN),
    (0x09FD, 0x09FE, PLAIN),
    (0x0A76, 0x0A76, PLAIN),
    (0x0AFA, 0x0AFF, PLAIN),
    (0x0B55, 0x0B55, PLAIN),
    (0x0C04, 0x0C04, PLAIN),
    (0x0C3C, 0x0C3C, PLAIN),
    (0x0C77, 0x0C77, PLAIN),
    (0x0C84, 0x0C84, PLAIN),
    (0x0D00, 0x0D00, PLAIN),
    (0x0D3B, 0x0D3C, PLAIN),
    (0x0D81, 0x0D81, PLAIN),
    (0x0EBA, 0x0EBA, PLAIN),
    (0x166D, 0x166D, PUNCT),
    (0x1734, 0x1734, DELETED),
    (0x180F, 0x180F, PLAIN),
    (0x1885, 0x1886, PLAIN),
    (0x1ABF, 0x1ACE, PLAIN),
    (0x1B7D, 0x1B7E, PLAIN),
    (0x1DF6, 0x1DFB, PLAIN),
    (0x2E43, 0x2E4F, PLAIN),
    (0x2E52, 0x2E5D, PLAIN),
    (0xA82C, 0xA82C, PLAIN),
    (0xA8C5, 0xA8C5, PLAIN),
    (0xA8FF, 0xA8FF, PLAIN),
    (0xA9BD, 0xA9BD, PLAIN),
    (0x10D24, 0x10D27, PLAIN),
    (0x10EAB, 0x10EAD, PLAIN),
    (0x10F46, 0x10F50, PLAIN),
    (0x10F55, 0x10F59, PLAIN),
    (0x10F82, 0x10F89, PLAIN),
    (0x11070, 0x11070, PLAIN),
    (0x11073, 0x11074, PLAIN),
    (0x110C2, 0x110C2, PLAIN),
    (0x110CD, 0x110CD, PLAIN),
    (0x111C9, 0x111C9, PUNCT),
    (0x111CF, 0x111CF, PLAIN),
    (0x1123E, 0x1123E, PLAIN),
    (0x1133B, 0x1133B, PLAIN),
    (0x11438, 0x1143F, PLAIN),
    (0x11442, 0x11444, PLAIN),
    (0x11446, 0x11446, PLAIN),
    (0x1144B, 0x1144F, PLAIN),
    (0x1145A, 0x1145B, PLAIN),
    (0x1145D, 0x1145E, PLAIN),
    (0x11660, 0x1166C, PLAIN),
    (0x116B9, 0x116B9, PLAIN),
    (0x1182F, 0x11837, PLAIN),
    (0x11839, 0x1183B, PLAIN),
    (0x1193B, 0x1193C, PLAIN),
    (0x1193E, 0x1193E, PLAIN),
    (0x11943, 0x11946, PLAIN),
    (0x119D4, 0x119D7, PLAIN),
    (0x119DA, 0x119DB, PLAIN),
    (0x119E0, 0x119E0, PLAIN),
    (0x119E2, 0x119E2, PLAIN),
    (0x11A01, 0x11A0A, PLAIN),
    (0x11A33, 0x11A38, PLAIN),
    (0x11A3B, 0x11A47, PLAIN),
    (0x11A51, 0x11A56, PLAIN),
    (0x11A59, 0x11A5B, PLAIN),
    (0x11A8A, 0x11A96, PLAIN),
    (0x11A98, 0x11A9C, PLAIN),
    (0x11A9E, 0x11AA2, PLAIN),
    (0x11C30, 0x11C36, PLAIN),
    (0x11C38, 0x11C3D, PLAIN),
    (0x11C3F, 0x11C3F, PLAIN),
    (0x11C41, 0x11C45, PLAIN),
    (0x11C70, 0x11C71, PLAIN),
    (0x11C92, 0x11CA7, PLAIN),
    (0x11CAA, 0x11CB0, PLAIN),
    (0x11CB2, 0x11CB3, PLAIN),
    (0x11CB5, 0x11CB6, PLAIN),
    (0x11D31, 0x11D36, PLAIN),
    (0x11D3A, 0x11D3A, PLAIN),
    (0x11D3C, 0x11D3D, PLAIN),
    (0x11D3F, 0x11D45, PLAIN),
    (0x11D47, 0x11D47, PLAIN),
    (0x11D90, 0x11D91, PLAIN),
    (0x11D95, 0x11D95, PLAIN),
    (0x11D97, 0x11D97, PLAIN),
    (0x11EF3, 0x11EF4, PLAIN),
    (0x11EF7, 0x11EF8, PLAIN),
    (0x11FFF, 0x11FFF, PLAIN),
    (0x12FF1, 0x12FF2, PLAIN),
    (0x13430, 0x13438, PLAIN),
    (0x16E97, 0x16E9A, PLAIN),
    (0x16F4F, 0x16F4F, PLAIN),
    (0x16FE2, 0x16FE2, PLAIN),
    (0x16FE4, 0x16FE4, PLAIN),
    (0x1CF00, 0x1CF2D, PLAIN),
    (0x1CF30, 0x1CF46, PLAIN),
    (0x1E000, 0x1E006, PLAIN),
    (0x1E008, 0x1E018, PLAIN),
    (0x1E01B, 0x1E021, PLAIN),
    (0x1E023, 0x1E024, PLAIN),
    (0x1E026, 0x1E02A, PLAIN),
    (0x1E130, 0x1E136, PLAIN),
    (0x1E2AE, 0x1E2AE, PLAIN),
    (0x1E2EC, 0x1E2EF, PLAIN),
    (0x1E944, 0x1E94A, PLAIN),
    (0x1E95E, 0x1E95F, PLAIN),
)
"""Inclusive code point ranges that `tokenizers` classes otherwise than `unicodedata`.

Mostly characters that Unicode assigned after the tables of `tokenizers`
were made: there they are unassigned, so neither marks nor punctuation nor
controls, and stay inside words.
"""

_OVERRIDES: dict[int, str] = {
    code: kind for low, high, kind in TOKENIZERS_CLASSES for code in range(low, high + 1)
}

PIECE_PREFIX = "##"

_CONTROL = frozenset(("Cc", "Cf", "Co", "Cs"))


class WordPieceTokenizer:
    """Text to token ids, `[CLS] pieces… [SEP]`, at most `max_tokens` ids in all."""

    def __init__(self, vocab: dict[str, int], specials: dict[str, int], max_tokens: int) -> None:
        self._vocab = vocab
        self._unk = vocab["[UNK]"]
        self._cls = vocab["[CLS]"]
        self._sep = vocab["[SEP]"]
        self._specials = specials
        longest_first = sorted(specials, key=len, reverse=True)
        self._special_split = re.compile("(" + "|".join(map(re.escape, longest_first)) + ")")
        self._max_pieces = max_tokens - 2
        self._max_word_chars = 100

    def encode(self, text: str) -> list[int]:
        """The ids of `text` as the model was trained to read it, truncated to `max_tokens`."""
        ids: list[int] = []
        for part in self._special_split.split(text):
            special = self._specials.get(part)
            if special is not None:
                ids.append(special)
            elif part:
                for word in pre_tokenize(normalize(part)):
                    ids.extend(self._word_ids(word))
            if len(ids) >= self._max_pieces:
                break
        return [self._cls, *ids[: self._max_pieces], self._sep]

    def _word_ids(self, word: str) -> list[int]:
        """Greedy longest-match-first pieces of one word; one [UNK] if any part has no piece."""
        if len(word) > self._max_word_chars:
            return [self._unk]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else PIECE_PREFIX + word[start:end]
                found = self._vocab.get(piece)
                if found is not None:
                    ids.append(found)
                    break
                end -= 1
            else:
                return [self._unk]
            start = end
        return ids


def _is_control(char: str) -> bool:
    """Control, format, private-use or surrogate, except tab and line ends.

    Unassigned code points (Cn) stay, as in `tokenizers`, whose table of
    them is empty.
    """
    if char in "\t\n\r":
        return False
    kind = _OVERRIDES.get(ord(char))
    if kind is not None:
        return kind == DELETED
    return unicodedata.category(char) in _CONTROL


def _is_chinese(code: int) -> bool:
    return any(low <= code <= high for low, high in CHINESE_RANGES)


def _is_punctuation(char: str) -> bool:
    """ASCII punctuation (which includes symbols such as $ and ^) or a Unicode P* character."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    kind = _OVERRIDES.get(code)
    if kind is not None:
        return kind == PUNCT
    return unicodedata.category(char)[0] == "P"


def normalize(text: str) -> str:
    """BertNormalizer: drop controls, one kind of space, spaced CJK, no accents, lower case."""
    chars: list[str] = []
    for char in text:
        if char in "\x00\ufffd" or _is_control(char):
            continue
        if char in WHITE_SPACE:
            chars.append(" ")
        elif _is_chinese(ord(char)):
            chars.extend((" ", char, " "))
        else:
            chars.append(char)
    decomposed = unicodedata.normalize("NFD", "".join(chars))
    # per character, as tokenizers does: str.lower() would turn a final sigma into ς
    return "".join(c.lower() for c in decomposed if not _is_mark(c))


def _is_mark(char: str) -> bool:
    """A non-spacing mark (Mn), which stripping the accents drops after NFD."""
    kind = _OVERRIDES.get(ord(char))
    if kind is not None:
        return kind == DELETED
    return unicodedata.category(char) == "Mn"


def pre_tokenize(text: str) -> Iterator[str]:
    """BertPreTokenizer: words split on white space, each punctuation mark a word of its own."""
    for chunk in text.split():
        word_start = 0
        for index, char in enumerate(chunk):
            if _is_punctuation(char):
                if index > word_start:
                    yield chunk[word_start:index]
                yield char
                word_start = index + 1
        if word_start < len(chunk):
            yield chunk[word_start:]


def load_wordpiece(path: Path, *, max_tokens: int) -> WordPieceTokenizer:
    """Read the vocabulary and special tokens of a BERT tokenizer.json.

    Raises SemanticUnavailableError when the file describes another pipeline
    (another normalizer, pre-tokenizer or model), whose ids this module
    would silently get wrong.
    """
    with path.open(encoding="utf-8") as handle:
        spec = json.load(handle)
    _check_pipeline(path, spec)
    model = spec["model"]
    specials = {str(token["content"]): int(token["id"]) for token in spec["added_tokens"]}
    vocab = {str(piece): int(index) for piece, index in model["vocab"].items()}
    return WordPieceTokenizer(vocab, specials, max_tokens)


def _check_pipeline(path: Path, spec: dict[str, object]) -> None:
    expected: dict[str, dict[str, object]] = {
        "normalizer": {
            "type": "BertNormalizer",
            "clean_text": True,
            "handle_chinese_chars": True,
            "strip_accents": None,
            "lowercase": True,
        },
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": PIECE_PREFIX,
            "max_input_chars_per_word": 100,
        },
    }
    for part, settings in expected.items():
        found = spec.get(part)
        if not isinstance(found, dict) or any(found.get(k) != v for k, v in settings.items()):
            raise SemanticUnavailableError(
                f"{path}: the onnx backend reads BERT WordPiece tokenizers only ({part} differs)"
                " — rebuild the model with tools/build_semantic_model.py"
            )
