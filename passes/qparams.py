"""Quantization parameters from ranges and weights (specs/quantization.md §1).

    u8 asymmetric:  s = (hi - lo) / 255,        z = clip(round_half_even(-lo / s), 0, 255)
    i8 asymmetric:  s = (hi - lo) / 255,        z = clip(round_half_even(-128 - lo / s), -128, 127)
    i8-sym:         s = max(|lo|, |hi|) / 127,  z = 0                      (storage i8)
    weights:        s_c = max|w_c| / 127,       q = clip(round_half_even(w / s_c), -127, 127)
                    (reduced range: 63 for 127)
    bias:           s_c = f32(s_x * s_w_c),     q = round_half_even(b / s_c) in int32

Ranges are first widened to contain 0; all arithmetic is float32, except a u8 width hi - lo
beyond float32's range (a range close to -3.4e38 .. 3.4e38), which is taken in float64.
"""

from __future__ import annotations

import numpy as np

from irc.ir.types import QuantType

F32 = np.float32
INT32_MAX = 2**31 - 1


ACTIVATION_STORAGES = ("u8", "i8", "i8-sym")
"""How activations may be stored: u8 or i8 with a zero point, or i8 symmetric (zero point 0)."""


def activation_type(lo: float, hi: float, storage: str = "u8") -> QuantType:
    """The quantized element type covering [lo, hi] (widened to contain 0)."""
    lo32, hi32 = F32(min(lo, 0.0)), F32(max(hi, 0.0))
    if storage in ("u8", "i8"):
        qmin = 0 if storage == "u8" else -128
        with np.errstate(over="ignore"):
            width = F32(hi32 - lo32)
        # width overflows only when lo and hi are both near float32's limits; (hi - lo) / 255 fits
        s = F32(width) / F32(255) if np.isfinite(width) else F32((float(hi32) - float(lo32)) / 255)
        if not s > 0:  # a range of zero width
            return QuantType.per_tensor(storage, 1.0, 0)
        z = int(np.clip(np.rint(F32(qmin) - lo32 / s), qmin, qmin + 255))
        return QuantType.per_tensor(storage, float(s), z)
    if storage == "i8-sym":
        s = F32(max(abs(lo32), abs(hi32))) / F32(127)
        if not s > 0:  # a range of zero width
            return QuantType.per_tensor("i8", 1.0, 0)
        return QuantType.per_tensor("i8", float(s), 0)
    raise ValueError(f"activations are {', '.join(ACTIVATION_STORAGES)}, not {storage}")


WEIGHT_QMAX = 127
"""Largest stored weight magnitude (symmetric int8)."""
REDUCED_WEIGHT_QMAX = 63
"""... with the reduced range (7-bit weights): any u8 activation times any two weights sums to
at most 255 * 63 * 2 = 32130, inside int16, so onnxruntime's x86 kernels without VNNI, which add
pairs of u8 x i8 products in saturating int16, compute exactly."""


def weight_qmax(reduce_range: bool) -> int:
    """The largest stored weight magnitude: 63 with the reduced range, else 127."""
    return REDUCED_WEIGHT_QMAX if reduce_range else WEIGHT_QMAX


def weight_scales(w: np.ndarray, axis: int | None, qmax: int = WEIGHT_QMAX) -> np.ndarray:
    """Symmetric int8 scales: one per slice along `axis`, or one for the tensor (axis None)."""
    w = w.astype(F32)
    if axis is None:
        m = np.abs(w).max(initial=0.0)
        scales = np.array([m], dtype=F32) / F32(qmax)
    else:
        red = tuple(i for i in range(w.ndim) if i != axis)
        scales = np.abs(w).max(axis=red, initial=0.0).astype(F32) / F32(qmax)
    return np.where(scales > 0, scales, F32(1.0)).astype(F32)


def quantize_with_scales(w: np.ndarray, scales: np.ndarray, axis: int | None,
                         qmax: int = WEIGHT_QMAX) -> np.ndarray:
    shape = [1] * w.ndim
    if axis is not None:
        shape[axis] = -1
    q = np.rint(w.astype(F32) / scales.reshape(shape))
    return np.clip(q, -qmax, qmax).astype(np.int8)


def weight_type(scales: np.ndarray, axis: int | None) -> QuantType:
    if axis is None:
        return QuantType.per_tensor("i8", float(scales[0]), 0)
    return QuantType.per_axis("i8", scales, np.zeros(len(scales), dtype=int), axis)


def fit_bias(bias: np.ndarray, x_scale: float, scales: np.ndarray) -> np.ndarray:
    """Weight scales grown where needed so that every bias fits int32 at scale s_x * s_w.

    A tiny input scale times a tiny weight scale can push |b| / (s_x s_w) past 2^31; then the
    weight scale of that channel is raised just enough (its weights lose a little precision).
    """
    if bias is None:
        return scales
    s_b = F32(x_scale) * scales
    need = np.abs(bias.astype(np.float64)) / (INT32_MAX - 1)
    too_small = s_b.astype(np.float64) < need
    if not np.any(too_small):
        return scales
    grown = np.where(too_small, (need / F32(x_scale)) * 1.0001, scales)
    return grown.astype(F32)


def bias_type_and_values(bias: np.ndarray, x_scale: float, w_scales: np.ndarray, axis: int | None):
    """(int32 values, i32 QuantType) of a bias at scale f32(s_x * s_w)."""
    s_b = (F32(x_scale) * w_scales.astype(F32)).astype(F32)
    if axis is None and len(s_b) == 1:
        q = np.rint(bias.astype(F32) / s_b[0])
        qt = QuantType.per_tensor("i32", float(s_b[0]), 0)
    else:
        q = np.rint(bias.astype(F32) / np.broadcast_to(s_b, bias.shape))
        qt = QuantType.per_axis("i32", np.broadcast_to(s_b, bias.shape), np.zeros(bias.shape[0], dtype=int), 0)
    return np.clip(q, -INT32_MAX, INT32_MAX).astype(np.int32), qt
