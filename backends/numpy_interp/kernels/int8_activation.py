"""int8 kernels of relu and clip on a quantized operand with its own result parameters.

    y_q = quantize(clamp(dequantize(x_q), lo, hi))      (float32, as DequantizeLinear ->
                                                         Relu/Clip -> QuantizeLinear compute it)

The quantize pass gives the result the range of the activation's output (for relu it starts at
0), so in onnxruntime the Relu/Clip is redundant with the Q's saturation and this equals what
the emitted DQ -> Relu -> Q computes.
"""

from __future__ import annotations

import numpy as np

from ..interpreter import kernel
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
