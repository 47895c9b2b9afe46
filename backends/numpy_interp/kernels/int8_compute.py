"""int8 kernels of the compute ops: conv, gemm, matmul on quantized operands.

specs/quantization.md §3: with the input x (s_x, z_x), the constant weight w (s_w[c], zero
point 0 — any zero point works here), the optional i32 bias b (scale s_x * s_w[c]) and the
quantized result (s_y, z_y):

    acc[c] = sum_k (x_q[k] - z_x) * (w_q[c, k] - z_w[c]) + b_q[c]          exact
    y_q[c] = clip(round_half_even(f32(acc[c]) * m[c]) + z_y, lo, hi),   m[c] = f32(f32(s_x * s_w[c]) / s_y)

[lo, hi] is the storage range, narrowed by a fused `activation` (relu / clip) when the op has
one. A matmul or gemm with a float result (onnxruntime's MatMulIntegerToFloat) returns
y[c] = f32(acc[c]) * f32(s_x * s_w[c]) instead, a gemm then adding its float bias c[c]. The products are float32 BLAS products of exact integers (see _int8.py); conv reuses the
fp32 kernel's im2col and computes every group with one batched product per reduction chunk.
"""

from __future__ import annotations

from math import prod

import numpy as np

from ..interpreter import kernel
from ._int8 import (accumulator_dtype, activation_range, add_bias, bias_values, centered, chunk_size,
                    exact_matmul, offset_bound, output_multiplier, per_tensor, quant_of, requantize, result_quant)
from .conv import COL_CHUNK_ELEMENTS, _geometry, _im2col, _pad


def _channel_scales(op, qt, axis: int, channels: int, what: str) -> np.ndarray:
    """One scale per output channel: the per-axis scales along `axis`, or the tensor's scale."""
    if qt.is_per_axis:
        if qt.axis != axis:
            raise ValueError(f"{op.name}: the {what} must be quantized per tensor or along axis {axis} "
                             f"(the output channels), got axis {qt.axis}")
        return qt.scale_array()
    return np.full(channels, qt.scales[0], dtype=np.float32)


@kernel("conv", quantized=True)
def conv(op, x, w, b=None):
    qx = per_tensor(op, quant_of(op, 0, "the input"), "the input")
    qw = quant_of(op, 1, "the weight")
    qy = per_tensor(op, result_quant(op), "the result")
    n = x.ndim - 2
    kernel_shape = w.shape[2:]
    strides, dilations, pads, out = _geometry(op, x, kernel_shape)
    groups = op.attr("group")
    N, M = x.shape[0], w.shape[0]
    w_scales = _channel_scales(op, qw, 0, M, "weight")
    # padding with 0 after subtracting z_x is padding the stored input with its zero point
    xs = _pad(centered(x, qx), pads[:n], pads[n:])
    wm = centered(w, qw).reshape(groups, M // groups, -1)
    bounds = offset_bound(qx), offset_bound(qw)
    k = wm.shape[-1]
    # float32 holds a one-chunk reduction exactly; longer ones accumulate in integers
    acc_dtype = np.float32 if k <= chunk_size(*bounds) else accumulator_dtype(k, *bounds)
    acc = np.empty((N, groups, M // groups, prod(out)), dtype=acc_dtype)
    per_sample = x.shape[1] * prod(kernel_shape) * prod(out)
    step = max(1, COL_CHUNK_ELEMENTS // max(per_sample, 1))
    for start in range(0, N, step):  # one slice unless the batch's columns exceed the bound
        cols = _im2col(xs[start:start + step], kernel_shape, strides, dilations, out, groups)
        acc[start:start + step] = exact_matmul(wm, cols, *bounds)
    acc = acc.reshape(N, M, prod(out))
    if b is not None:
        acc = add_bias(acc, bias_values(op, 2, b, np.float32(qx.scale) * w_scales)[:, None])
    m = output_multiplier(qx.scale, w_scales, qy.scale)[:, None]
    y = requantize(acc, m, qy, *activation_range(op, qy))
    return y.reshape(N, M, *out)


@kernel("gemm", quantized=True)
def gemm(op, a, b, c=None):
    if op.attr("trans_a"):
        raise ValueError("a quantized gemm takes a untransposed (trans_a=0)")
    if op.attr("alpha") != 1.0 or op.attr("beta") != 1.0:
        raise ValueError(f"a quantized gemm needs alpha=1 and beta=1, got alpha={op.attr('alpha')} "
                         f"beta={op.attr('beta')}")
    qa = per_tensor(op, quant_of(op, 0, "operand a"), "operand a")
    qb = quant_of(op, 1, "operand b")
    float_result = not op.results[0].type.is_quantized
    qy = None if float_result else per_tensor(op, result_quant(op), "the result")
    trans_b = bool(op.attr("trans_b"))
    n_out = b.shape[0] if trans_b else b.shape[1]
    b_scales = _channel_scales(op, qb, 0 if trans_b else 1, n_out, "operand b")
    bm = centered(b, qb)
    acc = exact_matmul(centered(a, qa), bm.T if trans_b else bm, offset_bound(qa), offset_bound(qb))
    if float_result:
        if op.attrs.get("activation"):
            raise ValueError("gemm: a fused activation needs a quantized result")
        if c is not None and op.operands[2].type.is_quantized:
            raise ValueError("gemm: a float result takes a float bias (operand c), got "
                             f"{op.operands[2].type}")
        # onnxruntime's MatMulIntegerToFloat with its bias: f32(acc) * f32(s_a * s_b[c]) + c
        y = np.multiply(acc, np.float32(qa.scale) * b_scales, dtype=np.float32)
        return y if c is None else np.add(y, np.asarray(c, dtype=np.float32), dtype=np.float32)
    assert qy is not None
    if c is not None:
        acc = add_bias(acc, bias_values(op, 2, c, np.float32(qa.scale) * b_scales, "operand c"))
    m = output_multiplier(qa.scale, b_scales, qy.scale)
    return requantize(acc, m, qy, *activation_range(op, qy))


@kernel("matmul", quantized=True)
def matmul(op, a, b):
    qa = per_tensor(op, quant_of(op, 0, "operand a"), "operand a")
    qb = quant_of(op, 1, "operand b")
    float_result = not op.results[0].type.is_quantized
    qy = None if float_result else per_tensor(op, result_quant(op), "the result")
    if qb.is_per_axis and (b.ndim < 2 or qb.axis != b.ndim - 1):
        raise ValueError("matmul: operand b may be quantized per axis only along its last axis, "
                         f"got {op.operands[1].type}")
    # one scale per column of the result, or a single one
    b_scales = qb.scale_array() if qb.is_per_axis else qb.scale_array().reshape(())
    am, bm = centered(a, qa), centered(b, qb)
    bounds = offset_bound(qa), offset_bound(qb)
    if a.ndim > 2 and b.ndim == 2:
        # a batch of rows times one matrix: a single (rows, K) @ (K, N) product
        acc = exact_matmul(am.reshape(-1, a.shape[-1]), bm, *bounds).reshape(*a.shape[:-1], b.shape[-1])
    else:
        acc = exact_matmul(am, bm, *bounds)
    if float_result:
        if op.attrs.get("activation"):
            raise ValueError("matmul: a fused activation needs a quantized result")
        # onnxruntime's MatMulIntegerToFloat: f32(acc) * f32(s_a * s_b[c])
        scale = np.float32(qa.scale) * np.asarray(b_scales, dtype=np.float32)
        return np.multiply(acc, scale, dtype=np.float32)
    m = output_multiplier(qa.scale, b_scales, qy.scale)
    return np.asarray(requantize(acc, m, qy, *activation_range(op, qy)))
