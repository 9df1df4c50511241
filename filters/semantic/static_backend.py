"""The `static` embedding backend: a model2vec table of token vectors.

A text's vector is the mean of its tokens' rows (special tokens excluded, as
model2vec does), L2-normalised. No transformer runs, so it is fast, but it
cannot tell "China accuses the US" from "the US accuses China".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from filters.semantic.pooling import l2_normalise


class StaticEmbedder:
    """Embeds texts by averaging per-token vectors from a distilled table."""

    def __init__(self, table: np.ndarray, tokenizer: Tokenizer) -> None:
        self._table = table
        self._tokenizer = tokenizer
        self.dimensions = int(table.shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; rows are unit-length float32 (zero for a text with no tokens)."""
        encodings = [self._tokenizer.encode(text, add_special_tokens=False) for text in texts]
        pooled = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            if encoding.ids:
                pooled[row] = self._table[encoding.ids].mean(axis=0)
        return l2_normalise(pooled)


def load_static_embedder(model_dir: Path, *, max_tokens: int) -> StaticEmbedder:
    """Open `model_dir/model.safetensors` (tensor `embeddings`) and its tokenizer."""
    tensors = load_file(str(model_dir / "model.safetensors"))
    table = np.asarray(tensors["embeddings"], dtype=np.float32)
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    return StaticEmbedder(table, tokenizer)
