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

from filters.semantic.pooling import l2_normalise
from filters.semantic.wordpiece import WordPieceTokenizer, load_wordpiece


class OnnxEmbedder:
    """Embeds texts with an ONNX encoder; one `embed` call is one batched inference."""

    def __init__(self, session: ort.InferenceSession, tokenizer: WordPieceTokenizer) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._input_names = {node.name for node in session.get_inputs()}
        self.dimensions = int(session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; rows are unit-length float32, in the order of `texts`.

        Texts are run in batches of similar token length, so a short headline
        is not padded to the length of a long sentence (padding costs as much
        compute as real tokens). They are tokenised one by one, in Python
        (filters/semantic/wordpiece.py, the same ids as `tokenizers`
        without its resident memory).
        """
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return vectors
        token_ids = [self._tokenizer.encode(text) for text in texts]
        for batch in length_buckets([len(ids) for ids in token_ids]):
            vectors[batch] = self._embed_ids([token_ids[i] for i in batch])
        return vectors

    def _embed_ids(self, token_ids: list[list[int]]) -> np.ndarray:
        """Mean-pooled, normalised vectors for one padded batch of token id lists."""
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, row_ids in enumerate(token_ids):
            ids[row, : len(row_ids)] = row_ids
            mask[row, : len(row_ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {name: value for name, value in feeds.items() if name in self._input_names}
        (states,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        summed = (np.asarray(states, dtype=np.float32) * weights).sum(axis=1)
        return l2_normalise(summed / np.maximum(weights.sum(axis=1), 1.0))


def length_buckets(lengths: Sequence[int], slack: float = 1.3) -> list[list[int]]:
    """Indexes grouped so no batch pads its shortest text beyond `slack` × its length."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    buckets: list[list[int]] = []
    for index in order:
        if buckets and lengths[index] <= slack * max(1, lengths[buckets[-1][0]]):
            buckets[-1].append(index)
        else:
            buckets.append([index])
    return buckets


def session_options(threads: int) -> ort.SessionOptions:
    """CPU session options: `threads` intra-op threads that sleep, not spin, when idle.

    A story is a few texts of at most 48 tokens, so each of the graph's
    operators is a few microseconds of work: a second intra-op thread mostly
    waits on hand-offs (measured on 2 cores: no wall time gained, 50% more
    CPU), and a spinning one burns the other core between operators. The
    graph is optimised at load (operator fusion, ~0.1 s); the file on disk
    stays the portable export, which ran faster here than a model fused
    offline by onnxruntime's transformer optimiser (benchmarks/topics.md).

    No memory arena: each run allocates its tensors from malloc and frees
    them. An arena keeps the most any run ever needed (a story's runs ~4 MB;
    the rule examples' batches when rules compile ~8 MB more until they were
    shrunk after each big batch), and the tier is over its memory target
    (benchmarks/topics.md, "Resident memory of the tier"). The memory
    pattern (planned offsets reused for a repeated input shape) stays on.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def load_onnx_embedder(model_dir: Path, *, max_tokens: int, threads: int) -> OnnxEmbedder:
    """Open `model_dir/model.onnx` and `model_dir/tokenizer.json` for CPU inference."""
    tokenizer = load_wordpiece(model_dir / "tokenizer.json", max_tokens=max_tokens)
    options = session_options(threads)
    session = ort.InferenceSession(
        str(model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return OnnxEmbedder(session, tokenizer)
