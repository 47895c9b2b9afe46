"""Kernels of the linear algebra ops (float and plain integer types): gemm, matmul.

Both call numpy's matmul, which hands float32/float64 products to BLAS.
"""

from __future__ import annotations

import numpy as np

from ..interpreter import kernel


def _scaled(y: np.ndarray, factor: float) -> np.ndarray:
    """y * factor in y's dtype (skipped when factor is 1, so integer products stay exact)."""
    if factor == 1.0:
        return y
    return y * np.asarray(factor).astype(y.dtype)


@kernel("gemm")
def gemm(op, a, b, c=None):
    if op.attr("trans_a"):
        a = a.T
    if op.attr("trans_b"):
        b = b.T
    y = _scaled(np.matmul(a, b), op.attr("alpha"))
    beta = op.attr("beta")
    # As onnxruntime does, c is not read when beta is 0 (so inf/nan in c do not leak into y).
    if c is not None and beta != 0.0:
        y = y + _scaled(c, beta)
    return np.asarray(y, dtype=a.dtype)


@kernel("matmul")
def matmul(op, a, b):
    # matmul of two 1-D arrays gives a numpy scalar: keep it a 0-d array
    return np.asarray(np.matmul(a, b))
