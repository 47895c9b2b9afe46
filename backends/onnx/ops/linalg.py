"""ONNX converters of the linear algebra ops: Gemm <-> gemm, MatMul <-> matmul.

Gemm attributes map one to one (transA -> trans_a, transB -> trans_b); attributes equal to
their default are left out on both sides, so `gemm(%a, %b, %c) {trans_b=1}` is the usual form.
"""

from __future__ import annotations

from ..registry import exporter, importer

# (ONNX name, IR name, default) of Gemm's attributes
_GEMM_ATTRS = (("alpha", "alpha", 1.0), ("beta", "beta", 1.0), ("transA", "trans_a", 0),
               ("transB", "trans_b", 0))


@importer("Gemm")
def import_gemm(ctx, node):
    attrs = {}
    for onnx_name, ir_name, default in _GEMM_ATTRS:
        value = ctx.attr(onnx_name, default)
        if value != default:
            attrs[ir_name] = value
    operands = [ctx.input(0), ctx.input(1)]
    if ctx.has_input(2):
        operands.append(ctx.input(2))
    return ctx.emit("gemm", operands, attrs)


@exporter("gemm")
def export_gemm(ctx, op):
    attrs = {}
    for onnx_name, ir_name, default in _GEMM_ATTRS:
        value = op.attr(ir_name)
        if value != default:
            attrs[onnx_name] = value
    ctx.node("Gemm", op.operands, op.results, **attrs)


@importer("MatMul")
def import_matmul(ctx, node):
    return ctx.emit("matmul", [ctx.input(0), ctx.input(1)])


@exporter("matmul")
def export_matmul(ctx, op):
    ctx.node("MatMul", op.operands, op.results)
