"""Tables of ONNX converters, one entry per ONNX op type (import) and per IR op (export).

Family modules in backends/onnx/ops/ register converters:

    @importer("Relu")
    def relu(ctx: ImportContext, node) -> list[Value]:
        return ctx.emit("relu", [ctx.input(0)])

    @exporter("relu")
    def relu(ctx: ExportContext, op) -> None:
        ctx.node("Relu", op.operands, op.results)

Importers see nodes in the canonical opset (every model is converted to CANONICAL_OPSET by onnx's
version converter first), so each converter handles one form of its op.
"""

from __future__ import annotations

from typing import Callable

from irc.ir.diagnostics import IRError

CANONICAL_OPSET = 21
"""Models are lowered from this opset of the default domain (older ones are upgraded first)."""

IMPORTERS: dict[str, Callable] = {}
EXPORTERS: dict[str, Callable] = {}


def importer(*op_types: str) -> Callable:
    def register(fn: Callable) -> Callable:
        for t in op_types:
            if t in IMPORTERS:
                raise ValueError(f"importer for ONNX {t} registered twice")
            IMPORTERS[t] = fn
        return fn

    return register


def exporter(*names: str) -> Callable:
    def register(fn: Callable) -> Callable:
        for n in names:
            if n in EXPORTERS:
                raise ValueError(f"exporter for {n} registered twice")
            EXPORTERS[n] = fn
        return fn

    return register


def one_to_one(onnx_type: str, ir_name: str) -> None:
    """Register the converters of an op that is one ONNX node with the same operands, results
    and no attributes either way (Sin <-> sin, Add <-> add)."""
    @importer(onnx_type)
    def import_plain(ctx, node):
        return ctx.emit(ir_name, ctx.inputs())

    @exporter(ir_name)
    def export_plain(ctx, op):
        ctx.node(onnx_type, op.operands, op.results)


def exporter_for(name: str) -> Callable | None:
    """The exporter of IR op kind `name`; generic ops (ir/generic.py) all share one."""
    fn = EXPORTERS.get(name)
    if fn is None and "." in name:
        from .generic import export_generic

        return export_generic
    return fn


def require_exporter(name: str) -> Callable:
    """The exporter of `name`; IRError when there is none (missing_exporters() checks first)."""
    fn = exporter_for(name)
    if fn is None:
        raise IRError(f"no ONNX exporter for op {name!r}")
    return fn


def missing_exporters(graph, handled: tuple[str, ...] = ("const",)) -> list[str]:
    """Op kinds of `graph` (nested graphs included) that nothing can write as ONNX."""
    return sorted({op.name for op in graph.walk() if op.name not in handled and exporter_for(op.name) is None})

