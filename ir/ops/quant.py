"""Quantization casts (the quant dialect of the type system).

    %q = quantize(%x) : tensor<1x16x!q.u8<0.0235:128>>   q = saturate(round_half_even(x / s) + z)
    %x = dequantize(%q) : tensor<1x16xf32>               x = s * (q - z)

Per-axis types apply one (s, z) pair per index along their axis. The result type of `quantize`
is declared (inference cannot choose scales); the verifier checks shapes agree and that the
operand of `quantize` is float and that of `dequantize` quantized.
"""

from __future__ import annotations

from ..registry import Signature, VerifyError, define_op


def _verify_quantize(s: Signature) -> None:
    if not s["x"].is_float:
        raise VerifyError(f"quantize takes a float operand, got {s['x']}")


def _verify_dequantize(s: Signature) -> None:
    if not s["x"].is_quantized:
        raise VerifyError(f"dequantize takes a quantized operand, got {s['x']}")


define_op(
    "quantize", operands=["x"], infer=lambda s: [s["x"].with_element("f32")],
    verify=_verify_quantize, family="core", traits=["elementwise", "pure"], quant="cast",
    doc="Float to quantized: q = saturate(round_half_to_even(x / scale) + zero_point).")

define_op(
    "dequantize", operands=["x"], infer=lambda s: [s["x"].with_element("f32")],
    verify=_verify_dequantize, family="core", traits=["elementwise", "pure"], quant="cast",
    doc="Quantized to float: x = scale * (q - zero_point).")


# -- dynamic quantization -------------------------------------------------------------------------

def _verify_dynamic_matmul(s: Signature) -> None:
    x, w = s["x"], s["w"]
    if not x.is_float or x.is_quantized:
        raise VerifyError(f"dynamic_matmul takes a float x (quantized at run time), got {x}")
    if not w.is_quantized or w.rank != 2 or w.quant.storage not in ("i8", "u8"):
        raise VerifyError(f"dynamic_matmul takes a 2-D 8-bit quantized weight, got {w}")
    if w.quant.is_per_axis and w.quant.axis != 1:
        raise VerifyError(f"dynamic_matmul: weight scales go per column (axis 1), got {w}")
    if x.rank < 1:
        raise VerifyError(f"dynamic_matmul: x must have rank 1 or more, got {x}")
    ka, kb = x.dims[-1], w.dims[0]
    if isinstance(ka, int) and isinstance(kb, int) and ka != kb:
        raise VerifyError(f"dynamic_matmul: inner dims differ: x is {x} (K={ka}), w is {w} (K={kb})")
    b = s.get("bias")
    if b is not None and (b.is_quantized or not b.is_float or b.rank != 1
                          or (isinstance(b.dims[0], int) and isinstance(w.dims[1], int) and b.dims[0] != w.dims[1])):
        raise VerifyError(f"dynamic_matmul: bias must be a float vector of the {w.dims[1]} columns, got {b}")


def _infer_dynamic_matmul(s: Signature):
    x, w = s["x"], s["w"]
    return [x.with_shape((*x.dims[:-1], w.dims[1])).with_element("f32")]


define_op(
    "dynamic_matmul", operands=["x", "w", "bias?"], infer=_infer_dynamic_matmul, verify=_verify_dynamic_matmul,
    family="core", traits=["pure"],
    doc="y = x @ w + bias with x quantized at run time (onnxruntime's DynamicQuantizeMatMul): "
        "lo = min(min x, 0), hi = max(max x, 0), s_x = (hi - lo) / 255 (1 if hi = lo), "
        "z_x = round_half_even(clip(-lo / s_x, 0, 255)), x_q = clip(round_half_even(x / s_x) + z_x, 0, 255) "
        "over the whole tensor; acc = sum_k (x_q - z_x)(w_q - z_w) exactly; "
        "y[c] = f32(acc[c]) * f32(s_x * s_w[c]) + bias[c].")
