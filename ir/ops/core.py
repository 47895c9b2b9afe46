"""Core ops: constants and identity.

    %w = const @conv1.weight : tensor<16x3x3x3xf32>      # an entry of the weights store
    %s = const dense<[1, 2]> : tensor<2xi64>             # a small array held inline

A const has either `ref` (the weights key) or `value` (the array), never both; its result type
is declared (the weights store holds raw storage values, so a quantized constant's type carries
the scale and zero point).
"""

from __future__ import annotations

from ..registry import Signature, VerifyError, attr, define_op


def _verify_const(s: Signature) -> None:
    if s.has("ref") == s.has("value"):
        raise VerifyError("const needs exactly one of `ref` (weights key) or `value` (inline array)")


def _infer_const(s: Signature):
    # the declared type stands: the verifier checks the array's dtype and shape against it (a
    # quantized constant holds its storage integers, so its type cannot be read off the array)
    return []


define_op(
    "const", operands=[], attrs={"ref": attr("str", None), "value": attr("tensor", None)},
    infer=_infer_const, verify=_verify_const, family="core", traits=["pure"],
    doc="A constant tensor: an entry of the weights store (`ref`) or a small inline array (`value`).")

define_op(
    "identity", quant="movement", operands=["x"], infer=lambda s: [s["x"]], family="core",
    traits=["elementwise", "data_movement", "pure"],
    doc="y = x. Kept only where a graph output must carry its own name.")
