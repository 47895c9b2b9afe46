"""Kernels of the index ops (ir/ops/index.py): range, cumsum, nonzero, topk, gather_elements,
gather_nd, scatter_nd, scatter_elements, one_hot, trilu.

Each follows what onnxruntime computes (specs/ops/index.md): range adds delta step by step in
the operands' type, cumsum sums in order (float16 in float32), topk orders equal values by
index, scatters apply their updates in order. An index outside its dimension stops the
interpreter with a message naming it. Kernels never write into their operands.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from irc.ir.ops.index import range_length

from ..interpreter import kernel
from .activation import quiet


def _dtype(op, i: int = 0) -> np.dtype:
    return op.results[i].type.dtype


def _in_range(indices: np.ndarray, n: int, what: str) -> np.ndarray:
    """Indices into a dim of size n with negatives counted from the end, made non-negative."""
    indices = np.asarray(indices, dtype=np.int64)
    bad = (indices < -n) | (indices >= n)
    if bad.any():
        raise IndexError(f"{what} index {int(indices[bad].ravel()[0])} out of range for a dimension of size {n}")
    return np.where(indices < 0, indices + n, indices)


# -- range / cumsum / nonzero ---------------------------------------------------------------------

@kernel("range")
@quiet
def range_(op, start, limit, delta):
    dtype = _dtype(op)
    s, lim, d = (np.asarray(a, dtype=dtype).reshape(-1)[0] for a in (start, limit, delta))
    if d == 0:
        raise ValueError("range: delta is 0")
    n = range_length(s, lim, d)
    if dtype.kind == "f":
        # start, start + delta, (start + delta) + delta, ...: rounded at every step, as onnxruntime
        steps = np.full(n, d, dtype=dtype)
        if n:
            steps[0] = s
        return np.cumsum(steps, dtype=dtype)
    # integers: start + i * delta wraps in int64 exactly as repeated addition in the narrow type
    return (np.int64(s) + np.arange(n, dtype=np.int64) * np.int64(d)).astype(dtype)


@kernel("cumsum")
@quiet
def cumsum(op, x):
    axis = op.attr("axis")
    w = x.astype(np.float32) if x.dtype == np.float16 else x
    if op.attr("reverse"):
        w = np.flip(w, axis)
    y = np.cumsum(w, axis=axis, dtype=w.dtype)
    if op.attr("exclusive") and y.shape[axis]:
        zero = np.zeros_like(np.take(y, [0], axis=axis))
        y = np.concatenate([zero, np.take(y, range(y.shape[axis] - 1), axis=axis)], axis=axis)
    if op.attr("reverse"):
        y = np.flip(y, axis)
    return np.ascontiguousarray(y, dtype=_dtype(op))


@kernel("nonzero")
def nonzero(op, x):
    x = x.reshape(1) if x.ndim == 0 else x  # a scalar reads as one element of one dim
    return np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1)


# -- topk -----------------------------------------------------------------------------------------

@kernel("topk")
def topk(op, x):
    axis, k = op.attr("axis"), op.attr("k")
    n = x.shape[axis]
    if op.attr("largest"):
        # sort the reversed axis ascending (stable), then read it backwards: values descend and
        # equal values come in ascending order of their original index; nan counts as largest
        order = np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)
        order = (n - 1) - order
    else:
        order = np.argsort(x, axis=axis, kind="stable")
    indices = np.take(order, range(k), axis=axis).astype(np.int64)
    values = np.take_along_axis(x, indices, axis=axis)
    return np.ascontiguousarray(values), np.ascontiguousarray(indices)


# -- gather ---------------------------------------------------------------------------------------

@kernel("gather_elements")
def gather_elements(op, data, indices):
    axis = op.attr("axis")
    idx = _in_range(indices, data.shape[axis], "gather_elements")
    # indices may be smaller than data along the other dims: only that corner is read
    corner = tuple(slice(None) if i == axis else slice(0, d) for i, d in enumerate(indices.shape))
    return np.take_along_axis(data[corner], idx, axis=axis)


def _rows(indices: np.ndarray, dims, what: str) -> tuple[np.ndarray, ...]:
    """The columns of index rows (last axis of `indices`) into `dims`, made non-negative."""
    return tuple(_in_range(indices[..., j], d, what) for j, d in enumerate(dims))


@kernel("gather_nd")
def gather_nd(op, data, indices):
    b, m = op.attr("batch_dims"), indices.shape[-1]
    if data.shape[:b] != indices.shape[:b]:
        raise ValueError(f"gather_nd batch dims differ: data {list(data.shape[:b])}, indices "
                         f"{list(indices.shape[:b])}")
    batch = math.prod(data.shape[:b])
    rows = math.prod(indices.shape[b:-1])
    flat = data.reshape((batch,) + data.shape[b:])
    cols = _rows(indices.reshape(batch, rows, m), data.shape[b:b + m], "gather_nd")
    picked = flat[(np.arange(batch)[:, None],) + cols]
    return picked.reshape(indices.shape[:-1] + data.shape[b + m:])


# -- scatter --------------------------------------------------------------------------------------

_COMBINE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "mul": np.multiply,
    # onnxruntime's std::max(update, current) and std::min(update, current): a nan update
    # replaces the element, a nan element is replaced
    "max": lambda cur, upd: np.where(upd < cur, cur, upd),
    "min": lambda cur, upd: np.where(cur < upd, cur, upd),
}


def _occurrence(flat: np.ndarray) -> np.ndarray:
    """For each entry, how many earlier entries have the same value (0 for the first)."""
    order = np.argsort(flat, kind="stable")
    ranked = flat[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if flat.size else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, flat.size])
    rank = np.empty(flat.size, np.int64)
    rank[order] = np.arange(flat.size) - np.repeat(starts, sizes)
    return rank


def _scatter(op, data: np.ndarray, targets: tuple[np.ndarray, ...], updates: np.ndarray) -> np.ndarray:
    """data with updates written at `targets` (one index array per leading dim of data, all of
    one shape, in update order); later writes to one place see the earlier ones."""
    out = np.array(data, copy=True)
    flat = np.ravel_multi_index(targets, data.shape[:len(targets)]).reshape(-1)
    rows = tuple(t.reshape(-1) for t in targets)
    upd = updates.reshape((flat.size,) + updates.shape[targets[0].ndim:])
    red = op.attr("reduction")
    if red == "none":
        # numpy does not promise which of several writes to one place wins: keep only the last
        last = flat.size - 1 - np.unique(flat[::-1], return_index=True)[1]
        out[tuple(r[last] for r in rows)] = upd[last]
        return out
    rank = _occurrence(flat)
    combine = _COMBINE[red]
    for r in range(int(rank.max()) + 1 if flat.size else 0):
        # the r-th write to each place, all places at once (each appears once per round)
        sel = rank == r
        where = tuple(t[sel] for t in rows)
        out[where] = combine(out[where], upd[sel])
    return out


@kernel("scatter_nd")
@quiet
def scatter_nd(op, data, indices, updates):
    m = indices.shape[-1]
    want = indices.shape[:-1] + data.shape[m:]
    if updates.shape != want:
        raise ValueError(f"scatter_nd updates have shape {list(updates.shape)}, indices and data "
                         f"ask for {list(want)}")
    return _scatter(op, data, _rows(indices, data.shape[:m], "scatter_nd"), updates)


@kernel("scatter_elements")
@quiet
def scatter_elements(op, data, indices, updates):
    axis = op.attr("axis")
    if updates.shape != indices.shape:
        raise ValueError(f"scatter_elements updates have shape {list(updates.shape)}, indices "
                         f"{list(indices.shape)}")
    targets = list(np.indices(indices.shape, sparse=False)) if indices.ndim else []
    targets[axis] = _in_range(indices, data.shape[axis], "scatter_elements")
    return _scatter(op, data, tuple(targets), updates)


# -- one_hot / trilu ------------------------------------------------------------------------------

@kernel("one_hot")
@quiet
def one_hot(op, indices, values):
    depth, axis = op.attr("depth"), op.attr("axis")
    idx = np.trunc(indices) if indices.dtype.kind == "f" else indices
    idx = idx.astype(np.int64)
    idx = np.where(idx < 0, idx + depth, idx)
    where = np.arange(depth, dtype=np.int64).reshape((depth,) + (1,) * (idx.ndim - axis))
    hot = np.expand_dims(idx, axis) == where
    off, on = values.reshape(-1)[0], values.reshape(-1)[1]
    return np.where(hot, on, off).astype(_dtype(op))


@kernel("trilu")
def trilu(op, x):
    k = op.attr("k")
    return np.triu(x, k) if op.attr("upper") else np.tril(x, k)
