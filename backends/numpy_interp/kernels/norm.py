"""Kernels of the normalization ops: batch_norm, instance_norm, layer_norm, softmax, log_softmax.

Everything is computed in the dtype of x, or in float32 when x is float16 (the result is cast
back), vectorized over all dims; statistics use numpy's pairwise-summing mean and the two-pass variance
mean((x - mean)^2), which stays accurate when the mean is large next to the spread.
"""

from __future__ import annotations

import functools

import numpy as np

from ..interpreter import kernel


def _f16_in_f32(fn):
    """Run a kernel on float16 operands in float32 and give the result back as float16."""
    @functools.wraps(fn)
    def run(op, *arrays):
        if arrays[0].dtype != np.float16:
            return fn(op, *arrays)
        return fn(op, *(a.astype(np.float32) for a in arrays)).astype(np.float16)
    return run


def _per_channel(v: np.ndarray, rank: int, dtype) -> np.ndarray:
    """A 1-D per-channel array shaped [C, 1, ..., 1] to broadcast along dim 1 of a rank-`rank` x."""
    return v.astype(dtype, copy=False).reshape((-1,) + (1,) * (rank - 2))


def _eps(op, dtype) -> np.ndarray:
    return np.asarray(op.attr("epsilon")).astype(dtype)


@kernel("batch_norm")
@_f16_in_f32
def batch_norm(op, x, scale, bias, mean, var):
    # Folded into one multiply-add per element, y = x * s + t, as onnxruntime computes it.
    s = scale.astype(x.dtype) / np.sqrt(var.astype(x.dtype) + _eps(op, x.dtype))
    t = bias.astype(x.dtype) - mean.astype(x.dtype) * s
    return x * _per_channel(s, x.ndim, x.dtype) + _per_channel(t, x.ndim, x.dtype)


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: np.ndarray) -> np.ndarray:
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance)."""
    centered = x - x.mean(axis=axes, keepdims=True)
    var = np.mean(np.square(centered), axis=axes, keepdims=True)
    return centered / np.sqrt(var + eps)


@kernel("instance_norm")
@_f16_in_f32
def instance_norm(op, x, scale, bias):
    y = _normalize(x, tuple(range(2, x.ndim)), _eps(op, x.dtype))
    return y * _per_channel(scale, x.ndim, x.dtype) + _per_channel(bias, x.ndim, x.dtype)


@kernel("layer_norm")
def layer_norm(op, x, scale, bias=None):
    out_dtype = x.dtype
    if x.dtype == np.float16:  # computed in float32, y rounded back to float16 at the end
        x, scale = x.astype(np.float32), scale.astype(np.float32)
        bias = None if bias is None else bias.astype(np.float32)
    axis = op.attr("axis") % x.ndim
    axes = tuple(range(axis, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = np.mean(np.square(centered), axis=axes, keepdims=True)
    std = np.sqrt(var + _eps(op, x.dtype))
    y = centered / std * scale.astype(x.dtype, copy=False)
    if bias is not None:
        y = y + bias.astype(x.dtype, copy=False)
    y = y.astype(out_dtype, copy=False)
    if not op.attr("stats"):
        return y
    # the statistics are float32 whatever x is (ONNX's default stash_type)
    inv_std = (np.ones((), x.dtype) / std).astype(np.float32)
    return y, mean.astype(np.float32), inv_std


def _shifted(op, x):
    """(x - max(x), axis): the max along the axis subtracted so exp cannot overflow."""
    axis = op.attr("axis") % x.ndim
    # `initial` makes an empty axis give an empty result instead of a reduction error
    return x - x.max(axis=axis, keepdims=True, initial=-np.inf), axis


@kernel("softmax")
@_f16_in_f32
def softmax(op, x):
    z, axis = _shifted(op, x)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


@kernel("log_softmax")
@_f16_in_f32
def log_softmax(op, x):
    z, axis = _shifted(op, x)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
