"""Kernels of pad and resize.

Resize is separable: for each resized axis the kernel computes, once, the input coordinate of
every output index (float32, in the order onnxruntime evaluates the formulas, so nearest-pixel
decisions agree bit for bit), turns the coordinates into taps (input indices and weights, one
column per tap) and applies them along that axis with a gather per tap. Points whose coordinate
falls outside the input under tf_crop_and_resize take the extrapolation value at the end.
"""

from __future__ import annotations

import numpy as np

from irc.ir.ops.resample import resolve_resize

from ..interpreter import kernel

F32 = np.float32


# -- pad ------------------------------------------------------------------------------------------

@kernel("pad")
def pad(op, x):
    pads = op.attr("pads")
    rank = x.ndim
    begin, end = pads[:rank], pads[rank:]
    # negative pads crop first; the remaining positive pads then extend what is left
    crop = tuple(slice(max(-b, 0), x.shape[i] - max(-e, 0)) for i, (b, e) in enumerate(zip(begin, end)))
    x = x[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end)]
    if not any(b or e for b, e in width):
        return np.asarray(x, order="C")
    mode = op.attr("mode")
    if mode == "constant":
        fill = np.array(op.attr("value")).astype(x.dtype)
        return np.pad(x, width, mode="constant", constant_values=fill)
    return np.pad(x, width, mode=mode)


# -- resize: coordinates --------------------------------------------------------------------------

def source_coordinates(coord_mode: str, n_in: int, n_out: int, scale: float,
                       roi_start: float, roi_end: float) -> np.ndarray:
    """Input coordinate (float32) of each output index along one axis."""
    x = np.arange(n_out, dtype=F32)
    s, lin, lout = F32(scale), F32(n_in), F32(n_out)
    if coord_mode == "half_pixel":
        return (x + F32(0.5)) / s - F32(0.5)
    if coord_mode == "asymmetric":
        return x / s
    if coord_mode == "tf_half_pixel_for_nn":
        return (x + F32(0.5)) / s
    if coord_mode == "pytorch_half_pixel":
        if n_out > 1:
            return (x + F32(0.5)) / s - F32(0.5)
        return np.zeros(n_out, dtype=F32)
    if coord_mode == "align_corners":
        if n_out == 1:
            return np.zeros(n_out, dtype=F32)
        return x * (lin - F32(1)) / (lout - F32(1))
    if coord_mode == "tf_crop_and_resize":
        rs, re = F32(roi_start), F32(roi_end)
        if n_out > 1:
            return rs * (lin - F32(1)) + (x * (re - rs) * (lin - F32(1))) / (lout - F32(1))
        return np.full(n_out, F32(0.5 * (float(rs) + float(re)) * float(lin - F32(1))), dtype=F32)
    if coord_mode == "half_pixel_symmetric":
        adjustment = lout / (s * lin)
        offset = (lin / F32(2)) * (F32(1) - adjustment)
        # this one is evaluated in double before the final rounding to float
        return (np.float64(offset) + (x.astype(np.float64) + 0.5) / np.float64(s) - 0.5).astype(F32)
    raise ValueError(f"unknown coordinate_transformation_mode {coord_mode!r}")


def _round_half_away(c: np.ndarray) -> np.ndarray:
    t = np.trunc(c)
    frac = c - t  # exact in floating point
    return t + np.where(np.abs(frac) >= F32(0.5), np.sign(c), F32(0))


def nearest_index(c: np.ndarray, nearest_mode: str, n_in: int) -> np.ndarray:
    if nearest_mode == "floor":
        r = np.floor(c)
    elif nearest_mode == "ceil":
        r = np.ceil(c)
    elif nearest_mode == "round_prefer_ceil":
        r = _round_half_away(c)
    else:  # round_prefer_floor: halves go down, the rest to the nearest integer
        r = np.where(c == np.trunc(c) + F32(0.5), np.floor(c), _round_half_away(c))
    return np.clip(r, 0, n_in - 1).astype(np.int64)


# -- resize: taps ---------------------------------------------------------------------------------

def linear_taps(c: np.ndarray, n_in: int):
    c = np.clip(c, F32(0), F32(n_in - 1))
    i1 = np.minimum(c.astype(np.int64), n_in - 1)
    i2 = np.minimum(i1 + 1, n_in - 1)
    d1 = np.abs(c - i1.astype(F32))
    d2 = np.abs(c - i2.astype(F32))
    same = i1 == i2
    d1 = np.where(same, F32(0.5), d1)
    d2 = np.where(same, F32(0.5), d2)
    return np.stack([i1, i2], axis=1), np.stack([d2, d1], axis=1)


def cubic_coefficients(s: np.ndarray, a: float | np.floating) -> np.ndarray:
    """Keys' cubic convolution weights of the taps at -1, 0, 1, 2 around the floor, for offsets s."""
    a = F32(a)
    s = np.abs(s)
    one, two = F32(1), F32(2)
    p, q = s + one, one - s
    r = two - s
    c0 = ((a * p - F32(5) * a) * p + F32(8) * a) * p - F32(4) * a
    c1 = ((a + two) * s - (a + F32(3))) * s * s + one
    c2 = ((a + two) * q - (a + F32(3))) * q * q + one
    c3 = ((a * r - F32(5) * a) * r + F32(8) * a) * r - F32(4) * a
    return np.stack([c0, c1, c2, c3], axis=1)


def cubic_taps(c: np.ndarray, n_in: int, a: float, exclude_outside: bool):
    base = np.floor(c)
    w = cubic_coefficients(c - base, a)
    idx = base.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]
    if exclude_outside:
        w = np.where((idx >= 0) & (idx < n_in), w, F32(0))
        w = w / w.sum(axis=1, keepdims=True, dtype=F32)
    return np.clip(idx, 0, n_in - 1), w


def _aa_filter(mode: str, t: np.ndarray, a: float | np.floating) -> np.ndarray:
    t = np.abs(t)
    if mode == "linear":
        return np.where(t < F32(1), F32(1) - t, F32(0))
    a = F32(a)
    near = ((a + F32(2)) * t - (a + F32(3))) * t * t + F32(1)
    far = (((t - F32(5)) * t + F32(8)) * t - F32(4)) * a
    return np.where(t < F32(1), near, np.where(t < F32(2), far, F32(0)))


def antialias_taps(c: np.ndarray, n_in: int, scale: float, mode: str, a: float, exclude_outside: bool):
    """Taps of the widened (low-pass) filter that anti-aliased downsampling uses.

    The filter (triangle for linear, Keys cubic for cubic) is stretched by 1/scale when
    shrinking; each output point weighs the input samples inside its support, normalized to sum
    to one. Samples outside the input fold onto the nearest edge unless exclude_outside drops them.
    """
    stretch = F32(1) / F32(scale)
    half = F32(1.0 if mode == "linear" else 2.0)
    support = half * stretch if stretch >= F32(1) else half
    window = int(np.ceil(support)) * 2 + 1
    inv = F32(1) / stretch if stretch >= F32(1) else F32(1)
    center = F32(0.5) + c
    lo_real = np.floor(center - support + F32(0.5)).astype(np.int64)
    hi_real = np.floor(center + support + F32(0.5)).astype(np.int64)
    hi_real = lo_real + np.clip(hi_real - lo_real, 0, window)
    lo_cut, hi_cut = np.clip(lo_real, 0, n_in), np.clip(hi_real, 0, n_in)
    lo, hi = (lo_cut, hi_cut) if exclude_outside else (lo_real, hi_real)
    pos = lo[:, None] + np.arange(window)[None, :]
    valid = (pos < hi[:, None]) & (lo_cut < hi_cut)[:, None]
    w = _aa_filter(mode, (pos.astype(F32) - center[:, None] + F32(0.5)) * inv, a)
    w = np.where(valid, w, F32(0))
    total = w.sum(axis=1, keepdims=True, dtype=F32)
    w = w * np.where(total == 0, F32(1), F32(1) / np.where(total == 0, F32(1), total))
    return np.clip(pos, 0, n_in - 1), w


# -- resize: the kernel ---------------------------------------------------------------------------

def _apply_taps(y: np.ndarray, axis: int, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """out[..., o, ...] = sum_t y[..., idx[o, t], ...] * w[o, t] along `axis`."""
    shape = [1] * y.ndim
    shape[axis] = idx.shape[0]
    w = w.astype(y.dtype)
    out: np.ndarray | None = None
    for t in range(idx.shape[1]):  # a handful of taps: 2 linear, 4 cubic, more when anti-aliasing
        term = np.take(y, idx[:, t], axis=axis) * w[:, t].reshape(shape)
        out = term if out is None else out + term
    if out is None:
        raise ValueError("resize: an output position without taps")
    return out


@kernel("resize")
def resize(op, x):
    axes = list(op.attr("axes"))
    in_dims = [x.shape[a] for a in axes]
    out_dims, scales = resolve_resize(in_dims, op.attr("scales"), op.attr("sizes"),
                                      op.attr("keep_aspect_ratio_policy"))
    out_shape = list(x.shape)
    for a, d in zip(axes, out_dims):
        out_shape[a] = d
    if list(out_dims) == in_dims:
        return x  # nothing changes size: a copy, whatever the mode
    if 0 in out_shape:
        return np.zeros(out_shape, dtype=x.dtype)
    if x.size == 0:
        raise ValueError(f"cannot resize an empty tensor of shape {list(x.shape)} to {out_shape}")
    mode = op.attr("mode")
    coord_mode = op.attr("coordinate_transformation_mode")
    antialias = bool(op.attr("antialias")) and mode != "nearest"
    exclude = bool(op.attr("exclude_outside"))
    a = op.attr("cubic_coeff_a")
    roi = op.attr("roi") or tuple([0.0] * len(axes) + [1.0] * len(axes))
    extrapolate = coord_mode == "tf_crop_and_resize"
    y = x.astype(F32) if (mode != "nearest" and x.dtype == np.float16) else x
    outside = np.zeros([1] * x.ndim, dtype=bool)
    for k, (axis, n_in, n_out, scale) in enumerate(zip(axes, in_dims, out_dims, scales)):
        if F32(scale) == F32(1) or (antialias and n_in == n_out):
            continue  # onnxruntime maps such an axis one to one, without the coordinate transform
        c = source_coordinates(coord_mode, n_in, n_out, scale, roi[k], roi[k + len(axes)])
        if extrapolate:
            shape = [1] * x.ndim
            shape[axis] = n_out
            outside = outside | ((c < 0) | (c > F32(n_in - 1))).reshape(shape)
        if mode == "nearest":
            y = np.take(y, nearest_index(c, op.attr("nearest_mode"), n_in), axis=axis)
            continue
        if antialias:
            idx, w = antialias_taps(c, n_in, scale, mode, a, exclude)
        elif mode == "linear":
            idx, w = linear_taps(c, n_in)
        else:
            idx, w = cubic_taps(c, n_in, a, exclude)
        y = _apply_taps(y, axis, idx, w)
    if extrapolate and outside.any():
        fill = np.array(op.attr("extrapolation_value")).astype(y.dtype)
        y = np.where(outside, fill, y)
    return np.asarray(y.astype(x.dtype, copy=False), order="C")
