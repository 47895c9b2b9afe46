"""Converters of the ONNX reductions (ReduceSum, ReduceMean, ...) and of ArgMax / ArgMin.

Import: the axes input (opset 13+/18+) must be a constant; it becomes the explicit, sorted,
non-negative `axes` attribute. Absent or empty axes mean every axis, or no axis at all when
noop_with_empty_axes=1 (then `axes=[]`). Export writes the axes input back (an empty `axes` as
noop_with_empty_axes=1 without the input).
"""

from __future__ import annotations

import numpy as np

from ..registry import exporter, importer
from .resample import known_input, not_constant

ONNX_REDUCTIONS = {
    "ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max",
    "ReduceMin": "reduce_min", "ReduceProd": "reduce_prod", "ReduceL1": "reduce_l1",
    "ReduceL2": "reduce_l2", "ReduceSumSquare": "reduce_sum_square", "ReduceLogSum": "reduce_log_sum",
    "ReduceLogSumExp": "reduce_log_sum_exp",
}
IR_TO_ONNX = {v: k for k, v in ONNX_REDUCTIONS.items()}


def _normalize_axes(ctx, raw, rank: int) -> list[int]:
    out = set()
    for a in np.asarray(raw).reshape(-1).tolist():
        if not -max(rank, 1) <= a < max(rank, 1):
            raise ctx.error(f"axis {a} is out of range for rank {rank}")
        out.add(a % rank if rank else 0)
    return sorted(out)


def _import_reduction(ctx, node):
    x = ctx.input(0)
    rank = x.type.rank
    raw = None
    if ctx.has_input(1):
        raw = known_input(ctx, 1)
        if raw is None:
            raise not_constant(ctx, 1, "axes")
    elif "axes" in ctx.attrs:  # the attribute form of opsets before 18 (13 for ReduceSum)
        raw = np.asarray(ctx.attrs["axes"], dtype=np.int64)
    if raw is None or raw.size == 0:
        axes = [] if ctx.attr("noop_with_empty_axes", 0) else list(range(rank))
    else:
        axes = _normalize_axes(ctx, raw, rank)
    attrs: dict = {"axes": axes}
    if not ctx.attr("keepdims", 1):
        attrs["keepdims"] = 0
    return ctx.emit(ONNX_REDUCTIONS[node.op_type], [x], attrs)


importer(*ONNX_REDUCTIONS)(_import_reduction)


@exporter(*IR_TO_ONNX)
def export_reduction(ctx, op):
    axes = list(op.attr("axes"))
    inputs = [op.operands[0]]
    noop = None
    if axes:
        inputs.append(ctx.initializer(np.asarray(axes, dtype=np.int64), f"{ctx.name(op.result)}_axes"))
    else:
        noop = 1
    ctx.node(IR_TO_ONNX[op.name], inputs, op.results, keepdims=op.attr("keepdims"),
             noop_with_empty_axes=noop)


@importer("ArgMax", "ArgMin")
def import_arg(ctx, node):
    x = ctx.input(0)
    rank = x.type.rank
    axis = int(ctx.attr("axis", 0))
    if not -rank <= axis < rank:
        raise ctx.error(f"axis {axis} is out of range for rank {rank}")
    attrs: dict = {"axis": axis % rank}
    if not ctx.attr("keepdims", 1):
        attrs["keepdims"] = 0
    if ctx.attr("select_last_index", 0):
        attrs["select_last_index"] = 1
    return ctx.emit("argmax" if node.op_type == "ArgMax" else "argmin", [x], attrs)


@exporter("argmax", "argmin")
def export_arg(ctx, op):
    ctx.node("ArgMax" if op.name == "argmax" else "ArgMin", op.operands, op.results, axis=op.attr("axis"),
             keepdims=op.attr("keepdims"), select_last_index=op.attr("select_last_index") or None)
