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


def run_time_ints(values) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _slice_parameters(op, x, starts, ends, axes, steps):
    """(axis, start, end, step) per sliced axis, from the attributes or the run-time operands."""
    if starts is None:
        return list(zip(op.attr("axes"), op.attr("starts"), op.attr("ends"), op.attr("steps")))
    starts, ends = run_time_ints(starts), run_time_ints(ends)
    if len(starts) != len(ends):
        raise ValueError(f"slice got {len(starts)} starts but {len(ends)} ends")
    axes = run_time_ints(axes) if axes is not None else list(range(len(starts)))
    steps = run_time_ints(steps) if steps is not None else [1] * len(starts)
    if not len(axes) == len(steps) == len(starts):
        raise ValueError(f"slice got {len(starts)} starts, {len(axes)} axes and {len(steps)} steps")
    if any(not -x.ndim <= a < x.ndim for a in axes) or len({a % x.ndim for a in axes}) != len(axes):
        raise ValueError(f"slice axes {axes} are out of range or repeat for a tensor of rank {x.ndim}")
    if 0 in steps:
        raise ValueError(f"slice steps must not be 0, got {steps}")
    return list(zip((a % x.ndim for a in axes), starts, ends, steps))


@movement_kernel("slice")
def slice_(op, x, starts=None, ends=None, axes=None, steps=None):
    index = [slice(None)] * x.ndim
    for axis, start, end, step in _slice_parameters(op, x, starts, ends, axes, steps):
        s, e = slice_bounds(start, end, step, x.shape[axis])
        # a clamped end of -1 (negative step) means "past index 0", which Python spells None
        index[axis] = slice(s, e if e >= 0 else None, step)
    return x[tuple(index)]


@movement_kernel("reshape")
def reshape(op, x, shape=None):
    allowzero = op.attr("allowzero")
    dims = op.attr("shape") if shape is None else run_time_ints(shape)
    if shape is not None and (dims.count(-1) > 1 or any(d < -1 for d in dims)
                              or (not allowzero and any(d == 0 and i >= x.ndim for i, d in enumerate(dims)))):
        raise ValueError(f"reshape target {dims} is not a valid shape for an input of shape {list(x.shape)}")
    target = [x.shape[i] if d == 0 and not allowzero else d for i, d in enumerate(dims)]
    try:
        return np.reshape(x, target)
    except ValueError:
        raise ValueError(f"cannot reshape an input of shape {list(x.shape)} ({x.size} elements) to "
                         f"{dims}") from None


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
def expand(op, x, shape=None):
    dims = tuple(op.attr("shape")) if shape is None else tuple(run_time_ints(shape))
    try:
        out = np.broadcast_shapes(x.shape, dims)
    except ValueError:
        raise ValueError(f"cannot expand an input of shape {list(x.shape)} to {list(dims)}") from None
    return np.array(np.broadcast_to(x, out))  # a writable copy, not a broadcast view


@movement_kernel("tile")
def tile(op, x, repeats=None):
    reps = op.attr("repeats") if repeats is None else run_time_ints(repeats)
    if len(reps) != x.ndim or any(r < 0 for r in reps):
        raise ValueError(f"tile needs one repeat count >= 0 per dim of an input of rank {x.ndim}, got {reps}")
    return np.tile(x, reps)


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
