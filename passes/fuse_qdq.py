"""fuse-qdq: turn dequantize -> float op -> quantize groups into irc's int8 ops.

A QDQ model (irc's own onnx-qdq output, onnxruntime's quantize_static, a quantization-aware
export) imports as float ops between casts. onnxruntime fuses such groups into its int8 kernels;
this pass makes the same groups the int8 ops the quantize pass writes, so that the interpreter
computes what those kernels compute (specs/quantization.md §6):

    %x = dequantize(%x_q)  %w = dequantize(%w_q)  %b = dequantize(%b_q)
    %y = conv(%x, %w, %b)  %y_q = quantize(%y) : T      ->   %y_q = conv(%x_q, %w_q, %b_q) : T

Groups, with the conditions of onnxruntime's QDQ fusions (and of irc's int8 kernels):

    compute     conv, gemm, matmul: a per-tensor u8/i8 input; weights the dequantize of a constant
                (matmul: or of any per-tensor value), per tensor or per output channel, i8 when
                the input is i8; an optional bias that dequantizes constant i32 at scale
                s_x * s_w[c] with zero point 0; the result stores what the input stores; conv
                with explicit pads, gemm with alpha = beta = 1 and trans_a = 0
    requantize  add, average_pool, global_average_pool, concat: per-tensor operands that store
                what the result stores (average_pool: no dilations, not ceil_mode together with
                count_include_pad); relu and clip on a per-tensor operand
    movement    reshape, flatten, transpose, squeeze, unsqueeze, max_pool, global_max_pool,
                slice, split, gather, expand, tile, identity: a per-tensor u8/i8 operand and a
                quantize of every result with the operand's own type

The op's result must be read by its quantize alone (not returned by the graph). A relu or clip
between them that the quantize's saturation makes redundant (q(lo) <= qmin and q(hi) >= qmax)
is dropped, as onnxruntime drops it; a fused `activation` attribute must be redundant the same
way. The group's op takes the quantize's result type and name. `quantize(dequantize(x_q))` to
x_q's own (8- or 16-bit) type is x_q. A group matching none of these stays dequantize -> float
op -> quantize, computed in float. Dequantize ops and constants left unused are removed. The
graph's own ops are rewritten; bodies nested in generic ops are left as they are.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.ops._activation import FUSED_ACTIVATIONS, fused_activation
from irc.ir.registry import is_bookkeeping
from irc.ir.types import BIAS_SCALE_RTOL, QuantType
from irc.ir.value import Value

from .base import Pass, PassContext, register_pass
from .dce import remove_dead_ops
from .quantize import ACTIVATIONS, COMPUTE, MOVEMENT, REQUANTIZE, weight_axis

STORAGES = ("u8", "i8")
EXACT_ROUND_TRIP = ("u8", "i8", "u16", "i16")
"""Storages for which quantize(dequantize(q)) gives q back exactly."""


def dequantized(v: Value) -> Value | None:
    """The quantized value `v` is the dequantize of, or None."""
    op = v.producer
    return op.operands[0] if op is not None and op.name == "dequantize" else None


def _per_tensor(v: Value | None, storages: tuple[str, ...] = STORAGES) -> QuantType | None:
    if v is None:
        return None
    qt = v.type.quant
    return None if qt.is_per_axis or qt.storage not in storages else qt


CLAMPS = tuple(k for k in FUSED_ACTIVATIONS if k)
"""The activations that are clamps (relu, clip): a quantize whose range lies inside makes them redundant."""


def _clamp_bounds(op: Op) -> tuple[float, float]:
    if op.name == "relu":
        return 0.0, np.inf
    lo, hi = op.attrs.get("min"), op.attrs.get("max")
    return (-np.inf if lo is None else float(lo)), (np.inf if hi is None else float(hi))


def _redundant(qt: QuantType, lo: float, hi: float) -> bool:
    return qt.saturation_clamps(lo, hi)


def output_cast(op: Op) -> tuple[Op, Op | None] | None:
    """(quantize, dropped clamp) when op's one result is read by a quantize alone, directly or
    through a relu / clip that the quantize makes redundant."""
    if len(op.results) != 1 or len(op.result.uses) != 1:
        return None
    user = op.result.uses[0].op
    if user.name == "quantize":
        return user, None
    if user.name in CLAMPS and not user.result.type.is_quantized and len(user.result.uses) == 1:
        q = user.result.uses[0].op
        if q.name == "quantize" and _per_tensor(q.result, (q.result.type.quant.storage,)) is not None \
                and _redundant(q.result.type.quant, *_clamp_bounds(user)):
            return q, user
    return None


def _fused_activation_ok(op: Op, qt: QuantType) -> bool:
    act = fused_activation(op)
    return act is None or _redundant(qt, act[1], act[2])


def _bias_ok(graph: Graph, b: Value | None, qx: QuantType, qw: QuantType, channels) -> bool:
    """A constant i32 bias of `channels` values at f32(s_x * s_w[c]), zero point 0."""
    if b is None or graph.const_value(b) is None or b.type.rank != 1 or b.type.dims[0] != channels:
        return False
    qb = b.type.quant
    if qb.storage != "i32" or any(qb.zero_points) or (qb.is_per_axis and qb.axis != 0):
        return False
    w_scales = np.broadcast_to(qw.scale_array(), (channels,)) if isinstance(channels, int) else qw.scale_array()
    expected = (np.float32(qx.scale) * w_scales.astype(np.float32)).astype(np.float32)
    scales = qb.scale_array()
    return scales.size in (1, expected.size) and bool(np.all(np.abs(scales - expected) <= BIAS_SCALE_RTOL * expected))


def _compute(graph: Graph, op: Op) -> dict[int, Value] | None:
    """New operands of a conv / gemm / matmul group, or None."""
    if op.name == "conv" and op.attrs.get("auto_pad") not in (None, "NOTSET"):
        return None
    if op.name == "gemm" and (op.attr("trans_a") or op.attr("alpha") != 1.0 or op.attr("beta") != 1.0):
        return None
    x, w = dequantized(op.operands[0]), dequantized(op.operands[1])
    qx = _per_tensor(x)
    if x is None or qx is None or w is None or w.type.quant.storage not in STORAGES:
        return None
    qw = w.type.quant
    if qx.storage == "i8" and qw.storage != "i8":
        return None
    constant = graph.const_value(w) is not None
    if op.name == "matmul":
        if op.operands[0].type.rank < 2 or w.type.rank < 2 or (qw.is_per_axis and not constant):
            return None
        axis = w.type.rank - 1
    elif not constant:
        return None
    else:
        found = weight_axis(op)
        if found is None:  # a conv or gemm weight always has an output-channel axis
            return None
        axis = found
    if qw.is_per_axis and qw.axis != axis:
        return None
    new = {0: x, 1: w}
    if len(op.operands) > 2:
        channels = w.type.dims[axis]
        b = dequantized(op.operands[2])
        if b is None or not _bias_ok(graph, b, qx, qw, channels):
            return None
        new[2] = b
    return new


def _requantize(op: Op) -> dict[int, Value] | None:
    """New operands of an add / pool / concat / relu / clip group, or None."""
    if op.name == "average_pool":
        if any(d != 1 for d in op.attrs.get("dilations", ())) or op.attrs.get("auto_pad") not in (None, "NOTSET"):
            return None
        if op.attrs.get("ceil_mode") and op.attrs.get("count_include_pad"):
            return None
    found = [dequantized(v) for v in op.operands]
    sources = [s for s in found if s is not None and _per_tensor(s) is not None]
    if len(sources) < len(found):
        return None
    return dict(enumerate(sources))


def _fuse(graph: Graph, op: Op, operands: dict[int, Value], q: Op, clamp: Op | None) -> None:
    for i, v in operands.items():
        op.set_operand(i, v)
    r = op.result
    r.type = r.type.with_element(q.result.type.quant)
    name = q.result.name
    q.result.replace_all_uses_with(r)
    graph.erase(q)
    if clamp is not None:
        graph.erase(clamp)
    r.name = name


def _fuse_group(graph: Graph, op: Op) -> str | None:
    """Fuse the group `op` heads; returns its treatment, or None when it stays float."""
    if op.name in COMPUTE:
        treatment, operands = "compute", _compute(graph, op)
    elif op.name in REQUANTIZE + ACTIVATIONS:
        treatment, operands = "requantize", _requantize(op)
    else:
        return None
    if operands is None:
        return None
    cast = output_cast(op)
    if cast is None:
        return None
    q, clamp = cast
    qy = _per_tensor(q.result)
    if qy is None or not _fused_activation_ok(op, qy):
        return None
    # onnxruntime fuses only groups whose data operands store what the result stores
    data = [operands[0]] if treatment == "compute" else [] if op.name in ACTIVATIONS else list(operands.values())
    if any(v.type.quant.storage != qy.storage for v in data):
        return None
    _fuse(graph, op, operands, q, clamp)
    return treatment


def _fuse_movement(graph: Graph, op: Op) -> bool:
    """A data-movement op between a dequantize and quantizes of the operand's own type."""
    if op.name not in MOVEMENT or not op.operands:
        return False
    x = dequantized(op.operands[0])
    qx = _per_tensor(x)
    if x is None or qx is None or any(dequantized(v) is not None or v.type.is_quantized for v in op.operands[1:]):
        return False
    casts = []
    for r in op.results:
        if len(r.uses) != 1 or r.uses[0].op.name != "quantize" or r.uses[0].op.result.type.quant != qx:
            return False
        casts.append(r.uses[0].op)
    op.set_operand(0, x)
    for r, q in zip(op.results, casts):
        r.type = r.type.with_element(qx)
        name = q.result.name
        q.result.replace_all_uses_with(r)
        graph.erase(q)
        r.name = name
    return True


def _drop_round_trip(graph: Graph, q: Op) -> bool:
    """quantize(dequantize(x_q)) to x_q's own type -> x_q."""
    x = dequantized(q.operands[0])
    if x is None or x.type.quant != q.result.type.quant or x.type.quant.storage not in EXACT_ROUND_TRIP:
        return False
    if any(u.op is graph.return_op for u in q.result.uses):
        return False  # a graph output keeps its name
    q.result.replace_all_uses_with(x)
    graph.erase(q)
    return True


def fuse_qdq_groups(graph: Graph) -> Counter:
    """Fuse every group of `graph` (see the module docstring); returns counts by treatment."""
    counts: Counter = Counter()
    if not any(op.name in ("quantize", "dequantize") for op in graph.ops):
        return counts
    for op in list(graph.ops):
        if op.graph is None:
            continue  # erased by an earlier group (a dropped clamp or quantize)
        if op.name == "quantize":
            if _drop_round_trip(graph, op):
                counts["casts dropped"] += 1
            continue
        treatment = _fuse_group(graph, op)
        if treatment is not None:
            counts[treatment] += 1
        elif _fuse_movement(graph, op):
            counts["movement"] += 1
    if counts:
        remove_dead_ops(graph, ("dequantize", "const"))
    counts["float ops between casts"] = sum(
        1 for op in graph.ops if not is_bookkeeping(op.name)
        and any(dequantized(v) is not None for v in op.operands)
        and any(u.op.name == "quantize" for r in op.results for u in r.uses))
    return counts


@register_pass
@dataclass(frozen=True)
class FuseQDQ(Pass):
    """Fuse dequantize -> op -> quantize groups (imported QDQ models) into int8 ops."""

    name: ClassVar[str] = "fuse-qdq"

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        counts = fuse_qdq_groups(graph)
        for key in ("compute", "requantize", "movement", "casts dropped", "float ops between casts"):
            ctx.record(self.name, key, counts.get(key, 0))
        return any(counts[k] for k in ("compute", "requantize", "movement", "casts dropped"))
