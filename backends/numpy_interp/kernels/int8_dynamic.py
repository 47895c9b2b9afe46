"""The kernel of dynamic_matmul: a matmul whose float input is quantized at run time.

onnxruntime's DynamicQuantizeMatMul (what its optimizer makes of DynamicQuantizeLinear ->
MatMulInteger -> Cast -> Mul -> Add), in float32 as it computes it:

    lo = min(min(x), 0),  hi = max(max(x), 0)                  over the whole tensor
    s  = (hi - lo) / 255                   (1 when hi == lo)
    z  = round_half_even(clip(0 - lo / s, 0, 255))
    x_q = clip(round_half_even(x / s) + z, 0, 255)
    acc[c] = sum_k (x_q[k] - z) * (w_q[k, c] - z_w[c])           exact (int32)
    y[c]   = f32(acc[c]) * f32(s * s_w[c]) + bias[c]
"""

from __future__ import annotations

import numpy as np

from ..interpreter import kernel
from ._int8 import centered, exact_matmul, offset_bound, quant_of
from irc.ir.types import QuantType


def dynamic_params(x: np.ndarray) -> tuple[np.float32, int]:
    """(scale, zero point) of x's run-time u8 quantization."""
    lo = np.float32(min(float(x.min(initial=0.0)), 0.0))
    hi = np.float32(max(float(x.max(initial=0.0)), 0.0))
    s = np.float32(1.0) if hi == lo else np.float32((hi - lo) / np.float32(255))
    z = np.rint(np.clip(np.float32(0) - lo / s, np.float32(0), np.float32(255)))
    return s, int(z)


@kernel("dynamic_matmul", quantized=True)
def dynamic_matmul(op, x, w, bias=None):
    x = np.asarray(x, dtype=np.float32)
    s, z = dynamic_params(x)
    qx = QuantType.per_tensor("u8", s, z)
    xq = np.clip(np.rint(x / s) + np.float32(z), 0, 255)
    qw = quant_of(op, 1, "the weight")
    w_scales = qw.scale_array() if qw.is_per_axis else qw.scale_array().reshape(())
    xm = (xq - np.float32(z)).reshape(-1, x.shape[-1])
    acc = exact_matmul(xm, centered(w, qw), offset_bound(qx), offset_bound(qw))
    y = np.multiply(acc, np.float32(s) * np.asarray(w_scales, dtype=np.float32), dtype=np.float32)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float32)
    return y.reshape(*x.shape[:-1], w.shape[1])
