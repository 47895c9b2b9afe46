"""Kernels of the reductions and of argmax / argmin.

Every reduction runs with keepdims and drops the reduced axes at the end, so `axes=[]` (reduce no
axis) needs no special case. Results keep the operand's dtype: float16 is computed in float32 and
rounded back; integer means and norms are computed exactly or in float64 and truncated toward
zero, which is what onnxruntime returns for integer tensors.
"""

from __future__ import annotations

import numpy as np

from ..interpreter import kernel


def _finish(op, r: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Drop the reduced axes unless keepdims; cast to the operand's dtype (truncating for ints)."""
    if not op.attr("keepdims"):
        r = np.squeeze(r, axis=tuple(op.attr("axes")))
    with np.errstate(invalid="ignore"):
        return np.asarray(np.asarray(r).astype(dtype), order="C")


def _work(x: np.ndarray) -> np.ndarray:
    """float16 is accumulated in float32; every other dtype as it is."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _real(x: np.ndarray) -> np.ndarray:
    """The values as floats for transcendental functions (integers go through float64)."""
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _sum(x: np.ndarray, axes) -> np.ndarray:
    return np.sum(x, axis=axes, keepdims=True, dtype=x.dtype)


@kernel("reduce_sum")
def reduce_sum(op, x):
    return _finish(op, _sum(_work(x), tuple(op.attr("axes"))), x.dtype)


@kernel("reduce_mean")
def reduce_mean(op, x):
    axes = tuple(op.attr("axes"))
    w = _work(x)
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    if x.dtype.kind == "f":
        with np.errstate(invalid="ignore", divide="ignore"):
            r = _sum(w, axes) / w.dtype.type(count)
    else:  # integer division truncating toward zero, as C++ does
        s = np.sum(x, axis=axes, keepdims=True, dtype=np.int64)
        n = max(count, 1)
        r = np.where(s >= 0, s // n, -((-s) // n))
    return _finish(op, r, x.dtype)


def _extreme_initial(x: np.ndarray, largest: bool):
    """The identity of max (lowest value) or min (highest value) for x's dtype."""
    if x.dtype == np.bool_:
        return largest
    if x.dtype.kind == "f":
        return np.inf if largest else -np.inf
    info = np.iinfo(x.dtype)
    return info.max if largest else info.min


@kernel("reduce_max")
def reduce_max(op, x):
    axes = tuple(op.attr("axes"))
    extra = {"initial": _extreme_initial(x, False)} if x.size == 0 else {}
    return _finish(op, np.max(x, axis=axes, keepdims=True, **extra), x.dtype)


@kernel("reduce_min")
def reduce_min(op, x):
    axes = tuple(op.attr("axes"))
    extra = {"initial": _extreme_initial(x, True)} if x.size == 0 else {}
    return _finish(op, np.min(x, axis=axes, keepdims=True, **extra), x.dtype)


@kernel("reduce_prod")
def reduce_prod(op, x):
    w = _work(x)
    return _finish(op, np.prod(w, axis=tuple(op.attr("axes")), keepdims=True, dtype=w.dtype), x.dtype)


@kernel("reduce_l1")
def reduce_l1(op, x):
    return _finish(op, _sum(np.abs(_work(x)), tuple(op.attr("axes"))), x.dtype)


@kernel("reduce_sum_square")
def reduce_sum_square(op, x):
    w = _work(x)
    return _finish(op, _sum(w * w, tuple(op.attr("axes"))), x.dtype)


@kernel("reduce_l2")
def reduce_l2(op, x):
    w = _work(x)
    return _finish(op, np.sqrt(_real(_sum(w * w, tuple(op.attr("axes"))))), x.dtype)


@kernel("reduce_log_sum")
def reduce_log_sum(op, x):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(_real(_sum(_work(x), tuple(op.attr("axes")))))
    return _finish(op, r, x.dtype)


@kernel("reduce_log_sum_exp")
def reduce_log_sum_exp(op, x):
    axes = tuple(op.attr("axes"))
    w = _real(_work(x))
    if not axes:
        return _finish(op, w, x.dtype)  # log(exp(x)) is x itself
    # shift by the largest finite element so that exp cannot overflow
    finite = np.where(np.isfinite(w), w, -np.inf)
    shift = np.max(finite, axis=axes, keepdims=True, initial=-np.inf)
    shift = np.where(np.isfinite(shift), shift, 0).astype(w.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.log(_sum(np.exp(w - shift), axes)) + shift
    return _finish(op, r, x.dtype)


def _arg(op, x, largest: bool):
    axis = op.attr("axis")
    find = np.argmax if largest else np.argmin
    if op.attr("select_last_index"):
        n = x.shape[axis]
        idx = n - 1 - find(np.flip(x, axis=axis), axis=axis)
    else:
        idx = find(x, axis=axis)
    idx = idx.astype(np.int64)
    if op.attr("keepdims"):
        idx = np.expand_dims(idx, axis)
    return np.asarray(idx, order="C")


@kernel("argmax")
def argmax(op, x):
    return _arg(op, x, True)


@kernel("argmin")
def argmin(op, x):
    return _arg(op, x, False)
