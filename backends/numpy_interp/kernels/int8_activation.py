"""int8 kernels of relu, clip and sigmoid on a quantized operand with their own result parameters.

    y_q = quantize(clamp(dequantize(x_q), lo, hi))      (float32, as DequantizeLinear ->
                                                         Relu/Clip -> QuantizeLinear compute it)

The quantize pass gives the result the range of the activation's output (for relu it starts at
0), so in onnxruntime the Relu/Clip is redundant with the Q's saturation and this equals what
the emitted DQ -> Relu -> Q computes.

sigmoid is onnxruntime's QLinearSigmoid, a table of the 256 stored values (specs/quantization.md §3):

    y_q = table[x_q],  table[i] = quantize(logistic(f32(s_x * f32(i - z_x))))

with onnxruntime's logistic (MLAS, x86-64): x clamped to [-18, 18], then the odd/even rational
approximation p(x) / q(x) + 1/2 evaluated with fused multiply-adds, clamped to [0, 1].
"""

from __future__ import annotations

import functools

import numpy as np

from irc.ir.types import QuantType

from ..interpreter import kernel
from ._int8 import fma_scalar, per_tensor, quant_of, result_quant
from .quant import dequantize_array, quantize_array


def _requantize_clamped(op, x, lo: float, hi: float) -> np.ndarray:
    f = dequantize_array(x, op.operands[0].type.quant)
    f = np.clip(f, np.float32(lo), np.float32(hi))
    return quantize_array(f, op.result.type.quant)


@kernel("relu", quantized=True)
def relu(op, x):
    return _requantize_clamped(op, x, 0.0, np.inf)


@kernel("clip", quantized=True)
def clip(op, x):
    lo, hi = op.attr("min"), op.attr("max")
    return _requantize_clamped(op, x, -np.inf if lo is None else lo, np.inf if hi is None else hi)


_f32 = np.float32
# the coefficients of onnxruntime's logistic approximation (numerator odd, denominator even)
_P = tuple(map(_f32, (4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05, 8.51377133304701e-03,
                      2.48287947061529e-01)))
_Q = tuple(map(_f32, (6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06, 1.70198817374094e-03,
                      1.16817656904453e-01, 9.93151921023180e-01)))


def logistic(x: np.float32) -> np.float32:
    """onnxruntime's float32 logistic of one value: Horner steps as fused multiply-adds."""
    v = _f32(min(max(_f32(x), _f32(-18.0)), _f32(18.0)))
    v2 = _f32(v * v)
    p = fma_scalar(v2, _P[0], _P[1])
    for c in _P[2:]:
        p = fma_scalar(p, v2, c)
    p = _f32(p * v)
    q = fma_scalar(v2, _Q[0], _Q[1])
    for c in _Q[2:]:
        q = fma_scalar(q, v2, c)
    return _f32(min(max(_f32(_f32(p / q) + _f32(0.5)), _f32(0.0)), _f32(1.0)))


@functools.lru_cache(maxsize=256)
def _sigmoid_table(qx: QuantType, qy: QuantType) -> np.ndarray:
    codes = np.arange(qx.qmin, qx.qmax + 1)
    x = _f32(qx.scale) * (codes - qx.zero_point).astype(_f32)
    y = np.array([logistic(v) for v in x], _f32)
    return quantize_array(y, qy)


@kernel("sigmoid", quantized=True)
def sigmoid(op, x):
    qx = per_tensor(op, quant_of(op, 0, "the input"), "the input")
    qy = per_tensor(op, result_quant(op), "the result")
    return _sigmoid_table(qx, qy)[x.astype(np.int32) - qx.qmin]
