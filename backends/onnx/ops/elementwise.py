"""Converters of the broadcasting elementwise ops: arithmetic, comparison, logic, Where, Cast.

Each is one ONNX node <-> one IR op with the same inputs. CastLike imports as `cast` to the
element type of its second input; Cast and CastLike to a type irc has no element type for
(bfloat16, float8, 4-bit, string) are import errors. Cast's `saturate` attribute only matters
for float8 targets and is ignored.
"""

from __future__ import annotations

import onnx

from ..inferred_types import ELEMENT_TO_ONNX, ONNX_TO_ELEMENT
from ..registry import exporter, importer, one_to_one

# ONNX op type -> IR op; every input is an operand
NARY = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow",
    "Max": "max", "Min": "min", "Sum": "sum", "Mean": "mean",
    "Equal": "equal", "Less": "less", "LessOrEqual": "less_or_equal",
    "Greater": "greater", "GreaterOrEqual": "greater_or_equal",
    "And": "and", "Or": "or", "Not": "not", "Where": "where",
}


for _t, _name in NARY.items():
    one_to_one(_t, _name)


def _element(ctx, onnx_type: int, what: str) -> str:
    e = ONNX_TO_ELEMENT.get(onnx_type)
    if e is None:
        name = onnx.TensorProto.DataType.Name(onnx_type) if onnx_type in onnx.TensorProto.DataType.values() \
            else str(onnx_type)
        raise ctx.unsupported(f"{what} {name} is not supported (irc has no element type for it)")
    return e


@importer("Cast")
def import_cast(ctx, node):
    to = _element(ctx, int(ctx.attr("to")), "cast to")
    return ctx.emit("cast", [ctx.input(0)], {"to": to})


@importer("CastLike")
def import_cast_like(ctx, node):
    like = ctx.const(1)
    if like is not None:
        from irc.ir.types import type_of_array

        try:
            to = type_of_array(like).storage
        except ValueError as e:
            raise ctx.error(f"cast target: {e}") from None
    else:
        to = ctx.input(1).type.storage
    return ctx.emit("cast", [ctx.input(0)], {"to": to})


@exporter("cast")
def export_cast(ctx, op):
    ctx.node("Cast", op.operands, op.results, to=ELEMENT_TO_ONNX[op.attr("to")])
