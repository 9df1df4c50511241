"""Vector arithmetic shared by the embedding backends."""

from __future__ import annotations

import numpy as np


def l2_normalise(rows: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (zero rows stay zero) as float32, so dot = cosine."""
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)
