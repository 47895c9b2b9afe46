"""Converters of the elementwise math, rounding, classification and bitwise ops (ir/ops/math.py).

Each is one ONNX node <-> one IR op with the same inputs, except float Mod with fmod=0 (floored
modulo): ONNX defines it from opset 28, and irc writes opset 21, where it is spelled with fmod=1
and a correction (see `export_mod`). An attribute at its default is left out at import and written
explicitly at export.
"""

from __future__ import annotations

import numpy as np

from ..importer import default_opset
from ..registry import exporter, importer, one_to_one

UNARY = {
    "Floor": "floor", "Ceil": "ceil", "Round": "round", "Sign": "sign", "Sin": "sin", "Cos": "cos",
    "IsNaN": "is_nan", "BitwiseNot": "bitwise_not",
    "Xor": "xor", "BitwiseAnd": "bitwise_and", "BitwiseOr": "bitwise_or", "BitwiseXor": "bitwise_xor",
}
FLOOR_MOD_FLOATS_OPSET = 28
"""The first opset whose Mod takes fmod=0 on floating-point operands."""


for _t, _name in UNARY.items():
    one_to_one(_t, _name)


@importer("IsInf")
def import_is_inf(ctx, node):
    attrs = {k: 0 for k in ("detect_positive", "detect_negative") if not ctx.attr(k, 1)}
    return ctx.emit("is_inf", [ctx.input(0)], attrs)


@exporter("is_inf")
def export_is_inf(ctx, op):
    ctx.node("IsInf", op.operands, op.results, detect_positive=op.attr("detect_positive"),
             detect_negative=op.attr("detect_negative"))


@importer("Mod")
def import_mod(ctx, node):
    x, y = ctx.input(0), ctx.input(1)
    fmod = int(ctx.attr("fmod", 0))
    opset = default_opset(ctx.importer.model)
    if not fmod and x.type.is_float and opset < FLOOR_MOD_FLOATS_OPSET:
        raise ctx.error(f"fmod=0 on {x.type.element} operands needs opset {FLOOR_MOD_FLOATS_OPSET} "
                        f"(the model has opset {opset}, whose Mod requires fmod=1 for floating point)")
    return ctx.emit("mod", [x, y], {"fmod": 1} if fmod else {})


@exporter("mod")
def export_mod(ctx, op):
    x, y = op.operands
    if op.attr("fmod") or not x.type.is_float:
        ctx.node("Mod", [x, y], op.results, fmod=op.attr("fmod"))
        return
    # floored modulo from C's fmod r (which has x's sign), as numpy computes it: where r is not
    # 0 and its sign differs from y's, r + y; a zero result is 0 with y's sign. (onnxruntime's
    # Where gives +0 for a -0 it takes from its second input, so the signed zero is the third.)
    base = ctx.name(op.result)

    def t(suffix: str) -> str:
        return ctx.fresh(f"{base}_{suffix}")

    zero = ctx.initializer(np.zeros((), x.type.dtype), f"{base}_zero")
    r, r_neg, y_neg, differ, is_zero, nonzero, shift, shifted, adjusted, mag, sgn, signed_zero = (
        t(s) for s in ("fmod", "r_neg", "y_neg", "differ", "is_zero", "nonzero", "shift", "shifted",
                       "adjusted", "abs", "sign", "signed_zero"))
    ctx.node("Mod", [x, y], [r], fmod=1)
    ctx.node("Less", [r, zero], [r_neg])
    ctx.node("Less", [y, zero], [y_neg])
    ctx.node("Xor", [r_neg, y_neg], [differ])
    ctx.node("Equal", [r, zero], [is_zero])
    ctx.node("Not", [is_zero], [nonzero])
    ctx.node("And", [differ, nonzero], [shift])
    ctx.node("Add", [r, y], [shifted])
    ctx.node("Where", [shift, shifted, r], [adjusted])
    ctx.node("Abs", [r], [mag])
    ctx.node("Sign", [y], [sgn])
    ctx.node("Mul", [mag, sgn], [signed_zero])
    ctx.node("Where", [nonzero, adjusted, signed_zero], op.results)
