"""int8 kernels of the requantizing ops: add, mul, average_pool, global_average_pool, concat.

Each reads quantized operands and writes a result with its own quantization parameters. The
arithmetic is onnxruntime's on x86-64 (QLinearAdd, QLinearMul, QLinearAveragePool, QLinearGlobalAveragePool;
specs/quantization.md §3 gives the formulas and why), so the interpreter and the emitted QDQ
model agree to the bit.

onnxruntime on x86-64 runs i8 activations only after rewriting each i8 Q -> DQ pair to u8
(stored value and zero point + 128), so its float arithmetic sees the u8 values: add and
average_pool, whose float32 sums involve the zero point before rounding, compute on i8 values in
that u8 form (global_average_pool and concat add the zero point after rounding, where the two
forms agree anyway).
"""

from __future__ import annotations

import numpy as np

from ..interpreter import kernel
from . import conv as _conv
from . import shape as _shape
from irc.ir.types import QuantType

from ._int8 import activation_range, fma_scalar, per_tensor, quant_of, replace_kernel, requantize, result_quant
from .quant import dequantize_array, quantize_array

_f32 = np.float32


def _u8_form(q: np.ndarray, qt: QuantType) -> tuple[np.ndarray, QuantType]:
    """An i8 per-tensor value as onnxruntime's x86 kernels see it: u8, everything + 128."""
    if qt.storage != "i8":
        return q, qt
    return (q.astype(np.int16) + 128).astype(np.uint8), QuantType.per_tensor("u8", qt.scale, qt.zero_point + 128)


def _from_u8_form(q: np.ndarray, qt: QuantType) -> np.ndarray:
    """Stored values of the u8 form back in `qt`'s storage."""
    if qt.storage != "i8":
        return q.astype(qt.storage_dtype)
    return (q.astype(np.int16) - 128).astype(np.int8)


def _fma(a, b, c) -> np.ndarray:
    """float32 a * b + c with one rounding, as a fused multiply-add instruction gives it.

    The exact product of two float32 values fits a float64, and so does its exact sum with the
    float32 addends met here (a few hundred at most, scale ratios above 2^-20), so one float64
    multiply-add rounded once to float32 is the fused result.
    """
    return (np.asarray(a, np.float64) * np.float64(b) + np.asarray(c, np.float64)).astype(np.float32)


# -- add ------------------------------------------------------------------------------------------

def _scalar_per_span(x_shape, y_shape, out_shape) -> tuple[bool, bool]:
    """Which operand onnxruntime's broadcaster reads as one value per output span.

    A one-element operand is a scalar; otherwise the innermost output axis longer than 1
    decides: an operand of length 1 there is repeated along the span.
    """
    if int(np.prod(x_shape)) == 1:
        return True, False
    if int(np.prod(y_shape)) == 1:
        return False, True
    rank = len(out_shape)
    xs = (1,) * (rank - len(x_shape)) + tuple(x_shape)
    ys = (1,) * (rank - len(y_shape)) + tuple(y_shape)
    for axis in reversed(range(rank)):
        if out_shape[axis] > 1:
            return xs[axis] == 1, ys[axis] == 1
    return False, False


@kernel("add", quantized=True)
def add(op, x, y):
    """QLinearAdd: v = fma(a, r_a, fma(b, r_b, F)), y_q = clip(round_half_even(v)).

    The clip is to the storage range, narrowed by a fused activation as for the compute ops.

    r_a = f32(s_a / s_y), r_b = f32(s_b / s_y), F = f32(z_y - fma(r_a, z_a, f32(r_b z_b))); `a`
    is the operand read as a vector and `b` the other. The sum of products in F is one fused
    multiply-add, as the compiler contracts it in onnxruntime's x86-64 kernel, so which operand
    is `a` matters: a `b` that is one value per span (a scalar or a broadcast operand) has its
    term folded into the span's constant with the same fused multiply-add as a vector `b`.
    """
    x, qx = _u8_form(x, per_tensor(op, quant_of(op, 0, "operand x"), "operand x"))
    y, qy_in = _u8_form(y, per_tensor(op, quant_of(op, 1, "operand y"), "operand y"))
    q_result = per_tensor(op, result_quant(op), "the result")
    _, qo = _u8_form(np.zeros(0, q_result.storage_dtype), q_result)
    out_shape = np.broadcast_shapes(x.shape, y.shape)
    x_scalar, _ = _scalar_per_span(x.shape, y.shape, out_shape)
    # onnxruntime hands the span-scalar operand over as `b`
    (a, qa), (b, qb) = ((y, qy_in), (x, qx)) if x_scalar else ((x, qx), (y, qy_in))
    s_out = _f32(qo.scale)
    r_a, r_b = _f32(_f32(qa.scale) / s_out), _f32(_f32(qb.scale) / s_out)
    fixed = _f32(_f32(qo.zero_point) - fma_scalar(r_a, _f32(qa.zero_point), _f32(r_b * _f32(qb.zero_point))))
    v = _fma(a.astype(np.float32), r_a, _fma(b.astype(np.float32), r_b, fixed))
    # saturation, narrowed by a fused relu / clip (rounding is monotone: clamping after it is exact)
    v = np.clip(np.rint(v), *activation_range(op, qo))
    return _from_u8_form(np.broadcast_to(v, out_shape).astype(qo.storage_dtype), q_result)


@kernel("mul", quantized=True)
def mul(op, x, y):
    """QLinearMul: v = f32(f32(f32(p) * r) + z_y), y_q = clip(round_half_even(v)).

    p = (a_q - z_a) (b_q - z_b) is an exact integer (below 2^17 in magnitude, exact in float32)
    and r = f32(f32(s_a * s_b) / s_y); the multiply and the add are separate float32 operations
    (onnxruntime's x86-64 kernel has no fused multiply-add here). The formula is symmetric in
    the operands, so broadcasting does not change it. i8 values are computed on as i8 (unlike
    add, onnxruntime's QDQ rewrite leaves the i8 Mul group as it is).
    """
    qx = per_tensor(op, quant_of(op, 0, "operand x"), "operand x")
    qy = per_tensor(op, quant_of(op, 1, "operand y"), "operand y")
    qo = per_tensor(op, result_quant(op), "the result")
    ratio = _f32(_f32(_f32(qx.scale) * _f32(qy.scale)) / _f32(qo.scale))
    prod = np.multiply(x.astype(np.int32) - qx.zero_point, y.astype(np.int32) - qy.zero_point).astype(_f32)
    v = (prod * ratio).astype(_f32) + _f32(qo.zero_point)
    return np.clip(np.rint(v), qo.qmin, qo.qmax).astype(qo.storage_dtype)


# -- pools ----------------------------------------------------------------------------------------

def _global_mean(op, x, qx, qy) -> np.ndarray:
    """QLinearGlobalAveragePool: y_q = clip(round_half_even(f32(S) * m) + z_y), exact integer S.

    S = sum(x_q) - z_x * n over the n spatial positions, m = f32(s_x / f32(s_y * f32(n))).
    """
    axes = tuple(range(2, x.ndim))
    count = int(np.prod(x.shape[2:]))
    total = x.sum(axis=axes, keepdims=True, dtype=np.int64) - np.int64(qx.zero_point) * count
    m = _f32(_f32(qx.scale) / _f32(_f32(qy.scale) * _f32(count)))
    return requantize(total, m, qy, qy.qmin, qy.qmax)


@kernel("global_average_pool", quantized=True)
def global_average_pool(op, x):
    qx = per_tensor(op, quant_of(op, 0, "the input"), "the input")
    qy = per_tensor(op, result_quant(op), "the result")
    return _global_mean(op, x, qx, qy)


@kernel("average_pool", quantized=True)
def average_pool(op, x):
    """QLinearAveragePool: the float32 mean of the dequantized window, quantized to the result.

    v = f32(s_x * (x_q - z_x)) per element; the window's values are added in float32 in
    row-major tap order; mean = f32(sum / count); y_q = clip(round_half_even(f32(mean / s_y) + z_y)).
    A window that is the whole (unpadded) image takes the integer path of global_average_pool,
    as onnxruntime does.
    """
    qx = per_tensor(op, quant_of(op, 0, "the input"), "the input")
    qy = per_tensor(op, result_quant(op), "the result")
    n = x.ndim - 2
    kernel_shape, strides, dilations, pads, out, overhang = _conv._pool_setup(op, x)
    if list(kernel_shape) == list(x.shape[2:]) and not any(pads):
        return _global_mean(op, x, qx, qy)
    q_result = qy
    _, qy = _u8_form(np.zeros(0, qy.storage_dtype), qy)
    values = dequantize_array(x, qx)
    ends = [p + e for p, e in zip(pads[n:], overhang)]
    padded = _conv._pad(values, pads[:n], ends)  # padding adds 0.0, which leaves a float sum as it is
    total = None
    for view in _conv._taps(padded, kernel_shape, strides, dilations, out):
        if total is None:
            total = view.copy()
        else:
            total += view
    mean = total / _count(op, x, kernel_shape, strides, dilations, pads, out, overhang)
    v = _f32(mean / _f32(qy.scale)) + _f32(qy.zero_point)
    return _from_u8_form(np.clip(np.rint(v), qy.qmin, qy.qmax).astype(qy.storage_dtype), q_result)


def _count(op, x, kernel_shape, strides, dilations, pads, out, overhang) -> np.ndarray:
    """The divisor of each window, as float32: taps inside the input (or input and pads)."""
    n = x.ndim - 2
    sizes = list(x.shape[2:])
    mask = np.zeros([pb + s + pe + e for pb, s, pe, e in zip(pads[:n], sizes, pads[n:], overhang)], _f32)
    if op.attr("count_include_pad"):  # the explicit pads count, the ceil_mode overhang does not
        mask[tuple(slice(0, pb + s + pe) for pb, s, pe in zip(pads[:n], sizes, pads[n:]))] = 1
    else:
        mask[tuple(slice(pb, pb + s) for pb, s in zip(pads[:n], sizes))] = 1
    count = sum(v for v in _conv._taps(mask[None, None], kernel_shape, strides, dilations, out))
    return np.maximum(count, 1).astype(_f32)


# -- concat ---------------------------------------------------------------------------------------

@replace_kernel("concat")
def concat(op, *xs):
    """Inputs with the result's parameters pass as they are; others are requantized first.

    Requantizing is dequantize then quantize, in float32: y_q = clip(round_half_even(
    f32(s_i * (x_q - z_i)) / s_y) + z_y) — what the QDQ form computes around a float Concat.
    """
    qy = result_quant(op)
    parts = []
    for i, x in enumerate(xs):
        qi = quant_of(op, i, f"operand {i}")
        if (qi.storage, qi.scales, qi.zero_points) == (qy.storage, qy.scales, qy.zero_points):
            parts.append(x)
        else:
            per_tensor(op, qi, f"operand {i} (its parameters differ from the result's)")
            parts.append(quantize_array(dequantize_array(x, qi), per_tensor(op, qy, "the result")))
    return _shape.concat(op, *parts)
