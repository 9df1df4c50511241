"""The Python WordPiece tokenizer gives the ids `tokenizers` gives for the shipped model."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from filters.semantic import DEFAULT_MODEL_DIR, SemanticUnavailableError
from filters.semantic.wordpiece import load_wordpiece

tokenizers = pytest.importorskip("tokenizers")

TOKENIZER_FILE = DEFAULT_MODEL_DIR / "tokenizer.json"
DEV_SET = Path(__file__).resolve().parent / "data" / "eval" / "dev.jsonl"
MAX_TOKENS = 48


def reference(max_tokens: int | None) -> Any:
    """`tokenizers` reading the same file, truncating as the embedder did before."""
    tokenizer = tokenizers.Tokenizer.from_file(str(TOKENIZER_FILE))
    if max_tokens is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer


def dev_texts() -> list[str]:
    texts: list[str] = []
    for line in DEV_SET.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        texts.extend(value for value in row.values() if isinstance(value, str) and value)
    return texts


def test_labelled_texts_get_the_same_ids_truncated_to_the_models_length() -> None:
    texts = dev_texts()
    texts += [
        "[CLS] literal special tokens [MASK] stay special, [mask] does not",
        "Σίσυφος ΟΔΥΣΣΕΥΣ, İstanbul, ǅ, ß, ﬁ, naïve café, e\u0301\u0327",
        "野口里佳 Noguchi Rika; 서울; ｆｕｌｌｗｉｄｔｈ;",
        "\u200bzero\u00a0width\u2028lines\x00\ufffd\x85\x0b\u3000",
        "a" * 101 + " " + "word " * 80,
    ]
    ours = load_wordpiece(TOKENIZER_FILE, max_tokens=MAX_TOKENS)
    theirs = reference(MAX_TOKENS)
    for text, encoding in zip(texts, theirs.encode_batch(texts), strict=True):
        assert ours.encode(text) == encoding.ids, text
    assert max(len(ours.encode(text)) for text in texts) == MAX_TOKENS


def test_every_code_point_is_classed_as_tokenizers_classes_it() -> None:
    """Each code point between two letters and alone, 64 code points a text, untruncated.

    Every assigned code point; of the ~830,000 unassigned ones (which both
    keep inside words) every 61st, to keep the test to seconds.
    """
    codes = [
        code
        for code in range(0x110000)
        if not 0xD800 <= code <= 0xDFFF
        and (unicodedata.category(chr(code)) != "Cn" or code % 61 == 0)
    ]
    texts = [
        " ".join(f"a{chr(code)}b {chr(code)}" for code in codes[start : start + 64])
        for start in range(0, len(codes), 64)
    ]
    ours = load_wordpiece(TOKENIZER_FILE, max_tokens=10**6)
    theirs = reference(None)
    for text, encoding in zip(texts, theirs.encode_batch(texts), strict=True):
        assert ours.encode(text) == encoding.ids, [hex(ord(char)) for char in text[1::6]]


def test_another_pipeline_is_refused_with_the_fix(tmp_path: Path) -> None:
    spec = json.loads(TOKENIZER_FILE.read_text(encoding="utf-8"))
    spec["normalizer"]["lowercase"] = False
    other = tmp_path / "tokenizer.json"
    other.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(SemanticUnavailableError) as caught:
        load_wordpiece(other, max_tokens=MAX_TOKENS)
    assert "normalizer" in str(caught.value)
    assert "tools/build_semantic_model.py" in str(caught.value)
