"""Kernels of the shape / data-movement ops (ir/ops/shape.py).

These only move, select or describe elements, so one kernel serves both float and quantized
operands: on a quantized tensor it moves the stored integers and the scale stays in the type
(the verifier makes concat operands share one quantized type). Results may be numpy views of
their operands; kernels never write into their operands.
"""

from __future__ import annotations

import math

import numpy as np

from irc.ir.ops.shape import shape_range, slice_bounds
from irc.ir.types import ELEMENT_DTYPES

from ..interpreter import kernel


def movement_kernel(name: str, quantized: bool = True):
    """Register `fn` as the kernel of `name`, for quantized operands too when `quantized`."""
    def register(fn):
        kernel(name)(fn)
        if quantized:
            kernel(name, quantized=True)(fn)
        return fn

    return register


@movement_kernel("concat")
def concat(op, *xs):
    return np.concatenate(xs, axis=op.attr("axis"))


@movement_kernel("split")
def split(op, x):
    cuts = np.cumsum(op.attr("split"))[:-1]
    return tuple(np.split(x, cuts, axis=op.attr("axis")))


@movement_kernel("slice")
def slice_(op, x):
    index = [slice(None)] * x.ndim
    for axis, start, end, step in zip(op.attr("axes"), op.attr("starts"), op.attr("ends"), op.attr("steps")):
        s, e = slice_bounds(start, end, step, x.shape[axis])
        # a clamped end of -1 (negative step) means "past index 0", which Python spells None
        index[axis] = slice(s, e if e >= 0 else None, step)
    return x[tuple(index)]


@movement_kernel("reshape")
def reshape(op, x):
    allowzero = op.attr("allowzero")
    target = [x.shape[i] if d == 0 and not allowzero else d for i, d in enumerate(op.attr("shape"))]
    return np.reshape(x, target)


@movement_kernel("flatten")
def flatten(op, x):
    axis = op.attr("axis")
    axis = axis + x.ndim if axis < 0 else axis
    return np.reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


@movement_kernel("transpose")
def transpose(op, x):
    return np.transpose(x, op.attr("perm"))


@movement_kernel("squeeze")
def squeeze(op, x):
    return np.squeeze(x, axis=tuple(op.attr("axes")))


@movement_kernel("unsqueeze")
def unsqueeze(op, x):
    return np.expand_dims(x, axis=tuple(op.attr("axes")))


@movement_kernel("expand")
def expand(op, x):
    shape = np.broadcast_shapes(x.shape, tuple(op.attr("shape")))
    return np.array(np.broadcast_to(x, shape))  # a writable copy, not a broadcast view


@movement_kernel("tile")
def tile(op, x):
    return np.tile(x, op.attr("repeats"))


@movement_kernel("gather")
def gather(op, data, indices):
    axis = op.attr("axis") % data.ndim
    n = data.shape[axis]
    if indices.size and (indices.min() < -n or indices.max() >= n):
        bad = indices[(indices < -n) | (indices >= n)].ravel()[0]
        raise IndexError(f"gather index {bad} out of range for dimension {axis} of size {n}")
    return np.asarray(np.take(data, indices, axis=axis))


@movement_kernel("shape")
def shape(op, x):
    start, end = shape_range(op.attr("start"), op.attr("end"), x.ndim)
    return np.array(x.shape[start:end], dtype=np.int64)


@movement_kernel("size")
def size(op, x):
    return np.array(x.size, dtype=np.int64)


@movement_kernel("constant_of_shape", quantized=False)
def constant_of_shape(op, shape):
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise ValueError(f"constant_of_shape got negative dims {list(dims)}")
    value = op.attr("value").ravel()[0]
    return np.full(dims, value, dtype=ELEMENT_DTYPES[op.attr("dtype")])
