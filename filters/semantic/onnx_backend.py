"""The `onnx` embedding backend: a transformer encoder run by onnxruntime.

Token states are mean-pooled over the attention mask and L2-normalised, which
is exactly what sentence-transformers does for all-MiniLM-L6-v2, so the
vectors agree with the original model (cosine ≈ 0.99 after int8 quantisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from filters.semantic.pooling import l2_normalise


class OnnxEmbedder:
    """Embeds texts with an ONNX encoder; one `embed` call is one batched inference."""

    def __init__(self, session: ort.InferenceSession, tokenizer: Tokenizer) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._input_names = {node.name for node in session.get_inputs()}
        self.dimensions = int(session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` (one batch, padded to the longest); rows are unit-length float32."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {name: value for name, value in feeds.items() if name in self._input_names}
        (states,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        summed = (np.asarray(states, dtype=np.float32) * weights).sum(axis=1)
        pooled = summed / np.maximum(weights.sum(axis=1), 1.0)
        return l2_normalise(pooled)


def load_onnx_embedder(model_dir: Path, *, max_tokens: int, threads: int) -> OnnxEmbedder:
    """Open `model_dir/model.onnx` and `model_dir/tokenizer.json` for CPU inference."""
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(
        str(model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return OnnxEmbedder(session, tokenizer)
