"""Kernels of the quantization casts, exactly as ONNX QuantizeLinear / DequantizeLinear.

    quantize:   q = clip(round_half_to_even(x / s) + z, qmin, qmax)
    dequantize: x = (q - z) * s            (computed in float32)
"""

from __future__ import annotations

import numpy as np

from irc.ir.types import QuantType

from ..interpreter import kernel


def broadcast_params(qt: QuantType, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point shaped to broadcast against a tensor of `rank` dims."""
    s = qt.scale_array()
    z = np.asarray(qt.zero_points, dtype=np.float32)
    if qt.axis is not None:
        shape = [1] * rank
        shape[qt.axis] = -1
        return s.reshape(shape), z.reshape(shape)
    return s.reshape(()), z.reshape(())


def quantize_array(x: np.ndarray, qt: QuantType) -> np.ndarray:
    s, z = broadcast_params(qt, x.ndim)
    q = np.rint(x.astype(np.float32) / s) + z
    return np.clip(q, qt.qmin, qt.qmax).astype(qt.storage_dtype)


def dequantize_array(q: np.ndarray, qt: QuantType) -> np.ndarray:
    s, z = broadcast_params(qt, q.ndim)
    if qt.storage == "i32":
        return ((q.astype(np.float64) - z) * s).astype(np.float32)
    return (q.astype(np.float32) - z) * s


@kernel("quantize")
def quantize(op, x):
    return quantize_array(x, op.result.type.quant)


@kernel("dequantize")
def dequantize(op, q):
    return dequantize_array(q, op.operands[0].type.quant)
