"""Converters of the index ops (ir/ops/index.py, specs/ops/index.md).

Import: TopK's k, CumSum's axis, OneHot's depth and Trilu's k become attributes; each must be
known at import (a constant, or a value _shape_values can work out). When it is only known at run
time the node stays a generic op (NotExpressible). Axes are made non-negative; attributes at
their declared defaults are left out. Range keeps its three operands; its result length is `?`
unless import can tell it from the operands (`range(0, shape(x)[1], 1)` has x's dim 1).

Export: the opset-21 nodes, attributes that ONNX wants as inputs written as initializers.
"""

from __future__ import annotations

import numpy as np

from irc.ir.ops.index import range_length
from irc.ir.registry import get_op
from irc.ir.types import Dim, TensorType

from ..registry import exporter, importer
from ._shape_values import shape_elements

ONE_HOT_DEPTH_TYPES = {
    ("i64", "i64"): ("i64",), ("f32", "i64"): ("i64",), ("i64", "f32"): ("i64", "f32", "i32"),
    ("i32", "f32"): ("f32", "i32"), ("f32", "f32"): ("f32",), ("i64", "i32"): ("f32",),
}
"""(indices, values) element types -> the depth types onnxruntime's CPU OneHot has kernels for,
most preferred first; export writes depth in the first (i64 for other pairs)."""


# -- import helpers -------------------------------------------------------------------------------

def _emit(ctx, name: str, operands, attrs: dict, **kw):
    """ctx.emit with the attributes at their declared default left out (the canonical form)."""
    specs = get_op(name).attrs
    attrs = {k: v for k, v in attrs.items() if specs[k].required or v != specs[k].default}
    return ctx.emit(name, operands, attrs, **kw)


def _axis(ctx, axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ctx.error(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank


def _dim(element) -> Dim:
    """An element of shape_elements as a dim: an int, a symbolic name or None (an element that
    stands for a dim of some tensor carries that dim's size as `dim`)."""
    return getattr(element, "dim", element)


def known_scalar(ctx, i: int, what: str) -> int | None:
    """Input `i` (one element) as an int, truncated toward zero; None when absent. Raises
    NotExpressible when it is only known at run time."""
    if not ctx.has_input(i):
        return None
    arr = ctx.const(i)
    if arr is None:
        elems = shape_elements(ctx.graph, ctx.input(i))
        d = _dim(elems[0]) if elems is not None and len(elems) == 1 else None
        if isinstance(d, int):
            return d
        raise ctx.not_constant(i, what)
    if arr.size != 1:
        raise ctx.error(f"input {i} ({what}) must hold one element, got shape {list(arr.shape)}")
    v = arr.reshape(-1)[0]
    if not np.isfinite(v):
        raise ctx.error(f"input {i} ({what}) is {v}")
    return int(v)


def _range_dim(ctx, operands) -> Dim:
    """The length of range(start, limit, delta) as far as import knows the operands."""
    found = [shape_elements(ctx.graph, v) for v in operands]
    elems = [e for e in found if e is not None and len(e) == 1]
    if len(elems) < len(found):
        return None
    start, limit, delta = (_dim(e[0]) for e in elems)
    if all(isinstance(v, int) for v in (start, limit, delta)):
        return range_length(start, limit, delta) if delta else None
    if start == 0 and delta == 1 and isinstance(limit, str):
        return limit  # 0, 1, ..., d - 1 for a dim d
    return None


# -- importers ------------------------------------------------------------------------------------

@importer("Range")
def import_range(ctx, node):
    operands = [ctx.input(i) for i in range(3)]
    if any(v is None for v in operands):
        raise ctx.error("Range needs start, limit and delta")
    n = _range_dim(ctx, operands)
    types = None if n is None else [TensorType((n,), operands[0].type.element)]
    return ctx.emit("range", operands, types=types)


@importer("CumSum")
def import_cumsum(ctx, node):
    x = ctx.input(0)
    axis = known_scalar(ctx, 1, "axis")
    if axis is None:
        raise ctx.error("input 1 (axis) is required")
    attrs = {"axis": _axis(ctx, axis, x.type.rank), "exclusive": int(ctx.attr("exclusive", 0)),
             "reverse": int(ctx.attr("reverse", 0))}
    return _emit(ctx, "cumsum", [x], attrs)


@importer("NonZero")
def import_nonzero(ctx, node):
    return ctx.emit("nonzero", [ctx.input(0)])


@importer("TopK")
def import_topk(ctx, node):
    x = ctx.input(0)
    k = known_scalar(ctx, 1, "k")
    if k is None:
        raise ctx.error("input 1 (k) is required")
    axis = _axis(ctx, int(ctx.attr("axis", -1)), x.type.rank)
    d = x.type.shape[axis]
    if k < 0 or (isinstance(d, int) and k > d):
        raise ctx.error(f"k={k} must lie in [0, {d}], the size of axis {axis} of {x.type}")
    attrs = {"k": k, "axis": axis, "largest": int(ctx.attr("largest", 1)), "sorted": int(ctx.attr("sorted", 1))}
    return _emit(ctx, "topk", [x], attrs)


@importer("GatherElements")
def import_gather_elements(ctx, node):
    data, idx = ctx.input(0), ctx.input(1)
    return _emit(ctx, "gather_elements", [data, idx], {"axis": _axis(ctx, int(ctx.attr("axis", 0)), data.type.rank)})


@importer("GatherND")
def import_gather_nd(ctx, node):
    return _emit(ctx, "gather_nd", [ctx.input(0), ctx.input(1)], {"batch_dims": int(ctx.attr("batch_dims", 0))})


@importer("ScatterND")
def import_scatter_nd(ctx, node):
    return _emit(ctx, "scatter_nd", [ctx.input(i) for i in range(3)], {"reduction": ctx.attr("reduction", "none")})


@importer("ScatterElements")
def import_scatter_elements(ctx, node):
    data = ctx.input(0)
    attrs = {"axis": _axis(ctx, int(ctx.attr("axis", 0)), data.type.rank),
             "reduction": ctx.attr("reduction", "none")}
    return _emit(ctx, "scatter_elements", [data, ctx.input(1), ctx.input(2)], attrs)


@importer("OneHot")
def import_one_hot(ctx, node):
    idx, values = ctx.input(0), ctx.input(2)
    depth = known_scalar(ctx, 1, "depth")
    if depth is None or values is None:
        raise ctx.error("OneHot needs indices, depth and values")
    if depth < 1:
        raise ctx.error(f"depth must be positive, got {depth}")
    axis = _axis(ctx, int(ctx.attr("axis", -1)), idx.type.rank + 1)
    return _emit(ctx, "one_hot", [idx, values], {"depth": depth, "axis": axis})


@importer("Trilu")
def import_trilu(ctx, node):
    k = known_scalar(ctx, 1, "k")
    attrs = {"upper": int(ctx.attr("upper", 1)), "k": 0 if k is None else k}
    return _emit(ctx, "trilu", [ctx.input(0)], attrs)


# -- exporters ------------------------------------------------------------------------------------

def _scalar(ctx, op, value, dtype, what: str, shape=()) -> str:
    return ctx.initializer(np.full(shape, value, dtype=dtype), f"{ctx.name(op.results[0])}_{what}")


@exporter("range")
def export_range(ctx, op):
    ctx.node("Range", op.operands, op.results)


@exporter("cumsum")
def export_cumsum(ctx, op):
    axis = _scalar(ctx, op, op.attr("axis"), np.int64, "axis")
    ctx.node("CumSum", [op.operands[0], axis], op.results, exclusive=op.attr("exclusive"),
             reverse=op.attr("reverse"))


@exporter("nonzero")
def export_nonzero(ctx, op):
    x = op.operands[0]
    if x.type.rank == 0:
        # onnx's shape inference gives NonZero of a scalar 0 rows, onnxruntime computes 1: a
        # 1-element vector has 1 row for both
        vector = ctx.fresh(f"{ctx.name(op.result)}_vector")
        ctx.node("Unsqueeze", [x, _scalar(ctx, op, 0, np.int64, "axes", shape=(1,))], [vector])
        x = vector
    ctx.node("NonZero", [x], op.results)


@exporter("topk")
def export_topk(ctx, op):
    k = _scalar(ctx, op, op.attr("k"), np.int64, "k", shape=(1,))
    ctx.node("TopK", [op.operands[0], k], op.results, axis=op.attr("axis"), largest=op.attr("largest"),
             sorted=op.attr("sorted"))


@exporter("gather_elements")
def export_gather_elements(ctx, op):
    ctx.node("GatherElements", op.operands, op.results, axis=op.attr("axis"))


@exporter("gather_nd")
def export_gather_nd(ctx, op):
    ctx.node("GatherND", op.operands, op.results, batch_dims=op.attr("batch_dims"))


@exporter("scatter_nd")
def export_scatter_nd(ctx, op):
    ctx.node("ScatterND", op.operands, op.results, reduction=op.attr("reduction"))


@exporter("scatter_elements")
def export_scatter_elements(ctx, op):
    ctx.node("ScatterElements", op.operands, op.results, axis=op.attr("axis"), reduction=op.attr("reduction"))


@exporter("one_hot")
def export_one_hot(ctx, op):
    idx, values = op.operands
    depth_type = ONE_HOT_DEPTH_TYPES.get((idx.type.storage, values.type.storage), ("i64",))[0]
    depth = _scalar(ctx, op, op.attr("depth"), {"i64": np.int64, "i32": np.int32, "f32": np.float32}[depth_type],
                    "depth")
    ctx.node("OneHot", [idx, depth, values], op.results, axis=op.attr("axis"))


@exporter("trilu")
def export_trilu(ctx, op):
    k = _scalar(ctx, op, op.attr("k"), np.int64, "k")
    ctx.node("Trilu", [op.operands[0], k], op.results, upper=op.attr("upper"))
