"""Kernels of the conv family: conv, conv_transpose, max/average pools, global pools, lrn.

conv is im2col: a strided window view of the padded input (sliding_window_view, no copy) is
laid out once as (N, G, C/G * K, P) and multiplied by the weight (G, M/G, C/G * K) in one
np.matmul, which batches over groups (depthwise conv included) and runs BLAS per matrix.
conv_transpose is the reverse: one matmul gives every tap's contribution, then a loop over
the kernel taps adds them into the strided output positions (col2im). Pools loop over the
kernel taps with whole-tensor np.maximum / np.add, which beats reducing a window view.

float16 is computed in float32 and rounded once at the end; float32 and float64 in their own type.
"""

from __future__ import annotations

import itertools
from math import prod
from typing import Iterator, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from irc.ir.ops._conv_shapes import dilated, resolve_pads, transpose_size, window_count

from ..interpreter import kernel

COL_CHUNK_ELEMENTS = 1 << 27
"""Largest im2col buffer (elements, 512 MB in float32) built at once; a bigger batch is cut in
slices of whole samples so memory stays bounded (each slice is still one matmul)."""


def _compute_dtype(dtype: np.dtype) -> np.dtype:
    """float16/float32 convolutions accumulate in float64 and round once at the end.

    With float32 GEMM the rounding of each output row depends on how BLAS tiles the matrix, so
    two channels with identical weights can differ by a few ulps; that is enough to flip a softmax
    over huge logits (onnx's as-shipped squeezenet test). float64 makes the result independent of
    tiling and threads, at about 2x the cost of float32 BLAS.
    """
    return np.dtype(np.float64) if dtype in (np.float16, np.float32) else np.dtype(dtype)


def _axis_attr(op, key: str, n: int, fill: int) -> list[int]:
    return list(op.attr(key)) or [fill] * n


def _geometry(op, x: np.ndarray, kernel_shape: Sequence[int], ceil_mode: bool = False):
    """strides, dilations, explicit pads and output sizes of a conv or pool on `x`."""
    n = x.ndim - 2
    strides = _axis_attr(op, "strides", n, 1)
    dilations = _axis_attr(op, "dilations", n, 1)
    pads = resolve_pads(op.attr("auto_pad"), op.attr("pads"), x.shape[2:], kernel_shape, strides, dilations)
    if pads is None:  # only an unknown size leaves SAME pads open, and an array's sizes are known
        raise ValueError(f"{op.name}: pads cannot be resolved for input shape {list(x.shape)}")
    out = [window_count(x.shape[2 + i], kernel_shape[i], strides[i], dilations[i], pads[i], pads[n + i], ceil_mode)
           for i in range(n)]
    if min(out, default=1) < 1:
        raise ValueError(f"the window {list(kernel_shape)} does not fit the input {list(x.shape)} "
                         f"padded by {pads}")
    return strides, dilations, pads, out


def _pad(x: np.ndarray, begins: Sequence[int], ends: Sequence[int], value=0) -> np.ndarray:
    if not any(begins) and not any(ends):
        return x
    # a filled buffer plus one copy: cheaper than np.pad's general machinery
    out = np.full(x.shape[:2] + tuple(s + b + e for s, b, e in zip(x.shape[2:], begins, ends)), value, x.dtype)
    out[(Ellipsis,) + tuple(slice(b, b + s) for b, s in zip(begins, x.shape[2:]))] = x
    return out


def _out_slices(strides, out) -> tuple[slice, ...]:
    return tuple(slice(0, (o - 1) * s + 1, s) for s, o in zip(strides, out))


def _taps(xp: np.ndarray, kernel_shape, strides, dilations, out) -> Iterator[np.ndarray]:
    """For each kernel tap, the strided view of `xp` (N, C, padded...) it reads: (N, C, *out)."""
    for tap in itertools.product(*(range(k) for k in kernel_shape)):
        yield xp[(Ellipsis,) + tuple(slice(t * d, t * d + (o - 1) * s + 1, s)
                                     for t, d, s, o in zip(tap, dilations, strides, out))]


# -- conv -----------------------------------------------------------------------------------------

def _im2col(xp: np.ndarray, kernel_shape, strides, dilations, out, groups: int) -> np.ndarray:
    """(N, G, C/G * prod(K), prod(out)) columns of the padded input `xp`."""
    n = len(kernel_shape)
    N, C = xp.shape[:2]
    if all(k == 1 for k in kernel_shape):  # pointwise: the columns are the (strided) input itself
        cols = xp[(Ellipsis,) + _out_slices(strides, out)]
        return np.ascontiguousarray(cols).reshape(N, groups, C // groups, prod(out))
    spans = [dilated(k, d) for k, d in zip(kernel_shape, dilations)]
    view = sliding_window_view(xp, spans, axis=tuple(range(2, 2 + n)))  # N, C, positions..., spans...
    view = view[(slice(None), slice(None)) + _out_slices(strides, out) + tuple(slice(None, None, d) for d in dilations)]
    # window axes before position axes, so a row of the matrix is one (channel, tap)
    order = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))
    cols = np.ascontiguousarray(view.transpose(order))
    return cols.reshape(N, groups, (C // groups) * prod(kernel_shape), prod(out))


@kernel("conv")
def conv(op, x, w, b=None):
    n = x.ndim - 2
    kernel_shape = w.shape[2:]
    strides, dilations, pads, out = _geometry(op, x, kernel_shape)
    ct = _compute_dtype(x.dtype)
    groups = op.attr("group")
    N, M = x.shape[0], w.shape[0]
    xp = _pad(x.astype(ct, copy=False), pads[:n], pads[n:])
    wm = w.astype(ct, copy=False).reshape(groups, M // groups, -1)
    per_sample = x.shape[1] * prod(kernel_shape) * prod(out)
    step = max(1, COL_CHUNK_ELEMENTS // max(per_sample, 1))
    y = np.empty((N, groups, M // groups, prod(out)), dtype=ct)
    for start in range(0, N, step):  # one slice unless the batch's columns exceed the bound
        cols = _im2col(xp[start:start + step], kernel_shape, strides, dilations, out, groups)
        np.matmul(wm, cols, out=y[start:start + step])
    y = y.reshape(N, M, *out)
    if b is not None:
        y += b.astype(ct, copy=False).reshape((M,) + (1,) * n)
    return y.astype(x.dtype, copy=False)


# -- conv_transpose -------------------------------------------------------------------------------

@kernel("conv_transpose")
def conv_transpose(op, x, w, b=None):
    n = x.ndim - 2
    N, C = x.shape[:2]
    kernel_shape = list(w.shape[2:])
    groups = op.attr("group")
    mg = w.shape[1]
    strides = _axis_attr(op, "strides", n, 1)
    dilations = _axis_attr(op, "dilations", n, 1)
    out_pad = _axis_attr(op, "output_padding", n, 0)
    pads = list(op.attr("pads")) or [0] * (2 * n)
    ins = list(x.shape[2:])
    out = [transpose_size(ins[i], kernel_shape[i], strides[i], dilations[i], pads[i], pads[n + i], out_pad[i])
           for i in range(n)]
    if min(out, default=1) < 1:
        raise ValueError(f"pads {pads} leave no output for input {list(x.shape)}")
    ct = _compute_dtype(x.dtype)
    # every tap's contribution at once: (G, M/G * K, C/G) @ (N, G, C/G, P_in)
    wt = w.astype(ct, copy=False).reshape(groups, C // groups, mg * prod(kernel_shape)).transpose(0, 2, 1)
    xs = x.astype(ct, copy=False).reshape(N, groups, C // groups, prod(ins))
    contrib = np.matmul(wt, xs).reshape(N, groups, mg, *kernel_shape, *ins)
    # the full (uncropped) output, long enough for the begin pad plus the requested output
    full = [max(s * (i - 1) + dilated(k, d), p + o)
            for s, i, k, d, p, o in zip(strides, ins, kernel_shape, dilations, pads[:n], out)]
    acc = np.zeros((N, groups, mg, *full), dtype=ct)
    lead = (slice(None),) * 3
    for tap in itertools.product(*(range(k) for k in kernel_shape)):
        dst = tuple(slice(t * d, t * d + (i - 1) * s + 1, s) for t, d, s, i in zip(tap, dilations, strides, ins))
        acc[lead + dst] += contrib[lead + tap]
    crop = tuple(slice(p, p + o) for p, o in zip(pads[:n], out))
    y = np.ascontiguousarray(acc.reshape(N, groups * mg, *full)[(slice(None), slice(None)) + crop])
    if b is not None:
        y += b.astype(ct, copy=False).reshape((groups * mg,) + (1,) * n)
    return y.astype(x.dtype, copy=False)


# -- pools ----------------------------------------------------------------------------------------

def _pool_setup(op, x):
    """Geometry of a pool and the extra end padding its ceil_mode windows reach into."""
    n = x.ndim - 2
    kernel_shape = list(op.attr("kernel_shape"))
    strides, dilations, pads, out = _geometry(op, x, kernel_shape, bool(op.attr("ceil_mode")))
    overhang = [max(0, (o - 1) * s + dilated(k, d) - (size + pb + pe))
                for o, s, k, d, size, pb, pe in zip(out, strides, kernel_shape, dilations, x.shape[2:],
                                                   pads[:n], pads[n:])]
    return kernel_shape, strides, dilations, pads, out, overhang


def _lowest(dtype: np.dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


@kernel("max_pool")
def max_pool(op, x):
    n = x.ndim - 2
    kernel_shape, strides, dilations, pads, out, overhang = _pool_setup(op, x)
    ends = [p + e for p, e in zip(pads[n:], overhang)]
    xp = _pad(x, pads[:n], ends, _lowest(x.dtype))
    y = None
    for view in _taps(xp, kernel_shape, strides, dilations, out):
        if y is None:
            y = view.copy()
        else:
            np.maximum(y, view, out=y)
    return y


@kernel("average_pool")
def average_pool(op, x):
    n = x.ndim - 2
    kernel_shape, strides, dilations, pads, out, overhang = _pool_setup(op, x)
    ct = _compute_dtype(x.dtype)
    ends = [p + e for p, e in zip(pads[n:], overhang)]
    xp = _pad(x.astype(ct, copy=False), pads[:n], ends)
    total = None
    for view in _taps(xp, kernel_shape, strides, dilations, out):
        if total is None:
            total = view.copy()
        else:
            total += view
    # the divisor per output position: taps landing in the input (or in input + explicit pads)
    sizes = list(x.shape[2:])
    if op.attr("count_include_pad"):
        mask = np.zeros([pb + s + pe + e for pb, s, pe, e in zip(pads[:n], sizes, pads[n:], overhang)], dtype=ct)
        mask[tuple(slice(0, pb + s + pe) for pb, s, pe in zip(pads[:n], sizes, pads[n:]))] = 1
    else:
        mask = np.zeros([pb + s + pe for pb, s, pe in zip(pads[:n], sizes, ends)], dtype=ct)
        mask[tuple(slice(pb, pb + s) for pb, s in zip(pads[:n], sizes))] = 1
    count = sum(v for v in _taps(mask[None, None], kernel_shape, strides, dilations, out))
    total /= np.maximum(count, 1)
    return total.astype(x.dtype, copy=False)


@kernel("global_average_pool")
def global_average_pool(op, x):
    axes = tuple(range(2, x.ndim))
    return x.mean(axis=axes, keepdims=True, dtype=_compute_dtype(x.dtype)).astype(x.dtype, copy=False)


@kernel("global_max_pool")
def global_max_pool(op, x):
    return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)


# -- lrn ------------------------------------------------------------------------------------------

@kernel("lrn")
def lrn(op, x):
    size = op.attr("size")
    ct = _compute_dtype(x.dtype)
    xc = x.astype(ct, copy=False)
    channels = x.shape[1]
    # channel c sums squares over [c - (size-1)//2, c + size//2], clipped to the channel range
    sq = np.pad(np.square(xc), [(0, 0), ((size - 1) // 2, size // 2)] + [(0, 0)] * (x.ndim - 2))
    window = sq[:, 0:channels].copy()
    for i in range(1, size):
        window += sq[:, i:i + channels]
    scale = ct.type(op.attr("bias")) + ct.type(op.attr("alpha") / size) * window
    return (xc / scale ** ct.type(op.attr("beta"))).astype(x.dtype, copy=False)
