"""Offline sentence embeddings for topic rules (the optional `semantic` extra).

A model directory holds a `meta.json` naming its backend and the files that
backend reads; nothing is ever downloaded. Two backends exist:

- `onnx`: a transformer exported to ONNX (int8 weights) run by onnxruntime,
  with mean pooling over the token states. This is what ships, in
  `filters/semantic/models/minilm-l6-int8` (built by
  `tools/build_semantic_model.py onnx`).
- `static`: a model2vec-style table of token vectors averaged per text; no
  transformer, so much faster but blind to word order.

Both return float32 rows, L2-normalised, so a dot product is the cosine.
Without the runtime packages, `load_embedder` raises
`SemanticUnavailableError` and the rest of newswatch runs with query rules only.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bot.core.resources import package_path
from filters.semantic.errors import SemanticUnavailableError as SemanticUnavailableError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_MODEL_DIR = package_path("filters.semantic", "models", "minilm-l6-int8")
"""The shipped model: all-MiniLM-L6-v2 exported to ONNX with int8 weights."""

INSTALL_HINT = "install the semantic extra: pip install 'newswatch[semantic]'"

_RUNTIME_MODULES: dict[str, tuple[str, ...]] = {
    "onnx": ("numpy", "onnxruntime", "threadpoolctl"),  # tokenizer: filters/semantic/wordpiece.py
    "static": ("numpy", "tokenizers", "safetensors", "threadpoolctl"),
}


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts` in one batch; row i belongs to texts[i]."""
        ...


def _missing_modules(backend: str) -> list[str]:
    return [name for name in _RUNTIME_MODULES[backend] if importlib.util.find_spec(name) is None]


def semantic_available(model_dir: Path | None = None) -> bool:
    """True when the runtime packages and the model files for the semantic tier are present.

    Cheap (no import of onnxruntime, no model load), so `rules` and `status`
    can report topic rules as inactive without paying for a load.
    """
    try:
        backend = _read_meta(model_dir or DEFAULT_MODEL_DIR)["backend"]
    except SemanticUnavailableError:
        return False
    return not _missing_modules(str(backend))


def _read_meta(model_dir: Path) -> dict[str, object]:
    meta_path = model_dir / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SemanticUnavailableError(
            f"no semantic model at {model_dir} (missing meta.json) — "
            "point model_dir at a directory built by tools/build_semantic_model.py"
        ) from None
    except (OSError, ValueError) as exc:
        raise SemanticUnavailableError(
            f"unreadable {meta_path}: {exc} — rebuild it with tools/build_semantic_model.py"
        ) from None
    if not isinstance(meta, dict) or meta.get("backend") not in _RUNTIME_MODULES:
        raise SemanticUnavailableError(
            f"{meta_path}: 'backend' must be one of {sorted(_RUNTIME_MODULES)}"
            " — rebuild it with tools/build_semantic_model.py"
        )
    return meta


def load_embedder(model_dir: Path | None = None, *, threads: int = 1) -> Embedder:
    """Load the embedding model in `model_dir` (default: the shipped model).

    `threads` is the ONNX session's intra-op thread count. One is the
    default and the fastest measured on the 2-core host: a story's batches
    are too small to split (benchmarks/topics.md), and the second core stays
    free for polling. numpy's BLAS pool is capped at one thread process-wide
    whatever `threads` says: the scoring matrices are small, and a second
    BLAS thread spinning beside the ONNX thread raised the CPU time per story
    by half and doubled its p99.
    Raises SemanticUnavailableError, with the fix in its one-line message,
    when the `semantic` extra is not installed or the model files are missing.
    """
    directory = model_dir or DEFAULT_MODEL_DIR
    meta = _read_meta(directory)
    backend = str(meta["backend"])
    missing = _missing_modules(backend)
    if missing:
        raise SemanticUnavailableError(
            f"topic rules need the Python packages {', '.join(missing)} — {INSTALL_HINT}"
        )
    max_tokens = int(str(meta.get("max_tokens", 128)))
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=1, user_api="blas")
    if backend == "onnx":
        from filters.semantic.onnx_backend import load_onnx_embedder

        return load_onnx_embedder(directory, max_tokens=max_tokens, threads=threads)
    from filters.semantic.static_backend import load_static_embedder

    return load_static_embedder(directory, max_tokens=max_tokens)
