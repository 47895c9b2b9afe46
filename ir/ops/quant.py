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
