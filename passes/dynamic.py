"""Dynamic quantization (quantize{mode=dynamic}): int8 weights now, activations at run time.

    matmul(x, W)                 ->  dynamic_matmul(x, W_q)
    add(matmul(x, W), b)         ->  dynamic_matmul(x, W_q, b)        b a constant vector of N
    gemm(x, W, c) {alpha beta trans_b}
                                 ->  dynamic_matmul(x, (alpha W)^T?_q, beta c)
    op {activation=relu|clip}    ->  relu / clip after the dynamic_matmul

for every matmul and gemm with a constant 2-D weight and a float input that is not skipped or
marked fp32 (q.fallback). W_q is i8 symmetric, per output column (`per_channel`) or per tensor;
the bias stays float. dynamic_matmul quantizes x to u8 over its whole tensor each time it runs
(the spec's formula in ir/ops/quant.py) — no calibration ranges are needed — and onnxruntime
runs it as one DynamicQuantizeMatMul kernel. Everything else stays float. The op keeps its
place and its result (the rewrite is in place), so the budget search maps it back to the float
graph's op.
"""

from __future__ import annotations

import numpy as np

from irc.ir.graph import Graph
from irc.ir.op import Op

from .fallback import FALLBACK_KEY
from .fuse import only_user
from .qparams import WEIGHT_QMAX, quantize_with_scales, weight_scales, weight_type

CANDIDATES = ("matmul", "gemm")


def _weight_and_bias(g: Graph, op: Op) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(W as K x N, bias or None) of a matmul / gemm that dynamic_matmul can compute, else None."""
    if len(op.operands) < 2 or not op.operands[0].type.is_float or op.operands[0].type.is_quantized:
        return None
    if not op.results[0].type.is_float or op.results[0].type.is_quantized:
        return None
    w = g.const_value(op.operands[1])
    if w is None or w.ndim != 2 or w.dtype.kind != "f" or not np.isfinite(w).all():
        return None
    w = w.astype(np.float32)
    if op.name == "matmul":
        return (w, None) if op.operands[0].type.rank >= 1 else None
    if op.attr("trans_a"):
        return None
    if op.attr("trans_b"):
        w = np.ascontiguousarray(w.T)
    w = (w * np.float32(op.attr("alpha"))).astype(np.float32)
    bias = None
    if len(op.operands) > 2:
        c = g.const_value(op.operands[2])
        if c is None or c.size not in (1, w.shape[1]) or c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
            return None
        bias = np.broadcast_to((c.astype(np.float32) * np.float32(op.attr("beta"))).reshape(-1),
                               (w.shape[1],)).astype(np.float32)
    return w, bias


def _bias_add(g: Graph, op: Op, n: int):
    """The add reading only op's result with a constant vector of n, and that vector."""
    add = only_user(op)
    if add is None or add.name != "add" or add.attrs.get("activation") or op.attrs.get("activation"):
        return None, None
    other = add.operands[1] if add.operands[0] is op.result else add.operands[0]
    c = g.const_value(other)
    if c is None or c.dtype.kind != "f" or c.size != n or c.shape[-1] != n:
        return None, None
    if add.results[0].type.shape != op.results[0].type.shape:
        return None, None
    return add, c.reshape(-1).astype(np.float32)


def quantize_dynamic(g: Graph, skip: set[str], per_channel: bool, weight_qmax: int = WEIGHT_QMAX) -> dict[str, int]:
    """Rewrite the graph's matmuls and gemms as dynamic_matmul (module docstring); statistics."""
    counts = {"dynamic matmuls": 0, "bias adds absorbed": 0}
    for op in list(g.ops):
        if op.graph is None or op.name not in CANDIDATES or op.label in skip or FALLBACK_KEY in op.attrs:
            continue
        found = _weight_and_bias(g, op)
        if found is None:
            continue
        w, bias = found
        axis = 1 if per_channel else None
        scales = weight_scales(w, axis, weight_qmax)
        w_val = op.operands[1]
        wq = g.const(quantize_with_scales(w, scales, axis, weight_qmax), f"{w_val.name or 'w'}_q", inline=False,
                     type=w_val.type.with_shape(w.shape).with_element(weight_type(scales, axis)), before=op)
        act = {k: op.attrs[k] for k in ("activation", "activation_min", "activation_max") if k in op.attrs}
        add = None
        if bias is None:
            add, bias = _bias_add(g, op, w.shape[1])
        operands = [op.operands[0], wq]
        if bias is not None:
            operands.append(g.const(bias, f"{op.result.name or 'y'}_bias", before=op))
        op.set_operands(operands)
        op.name = "dynamic_matmul"
        op.attrs = {k: v for k, v in op.attrs.items() if k.startswith("q.")}
        if add is not None:
            returned = any(u.op is g.return_op for u in add.result.uses)
            name = add.result.name
            add.result.replace_all_uses_with(op.result)
            g.erase(add)
            if returned:
                op.result.name = name
            counts["bias adds absorbed"] += 1
        if act.get("activation") in ("relu", "clip"):
            _activation_after(g, op, act)
        counts["dynamic matmuls"] += 1
    return counts


def _activation_after(g: Graph, op: Op, act: dict) -> None:
    """The fused relu / clip of a rewritten op as its own op after it (taking over its uses)."""
    uses = list(op.result.uses)
    name = op.result.name
    returned = any(u.op is g.return_op for u in uses)
    new_name = name if returned else (f"{name}_{act['activation']}" if name else None)
    if act["activation"] == "relu":
        new = g.create("relu", [op.result], names=[new_name], after=op)
    else:
        attrs = {}
        if act.get("activation_min") is not None:
            attrs["min"] = float(act["activation_min"])
        if act.get("activation_max") is not None:
            attrs["max"] = float(act["activation_max"])
        new = g.create("clip", [op.result], attrs, names=[new_name], after=op)
    if returned:
        op.result.name = f"{name}_linear" if name else None
    for u in uses:
        u.op.set_operand(u.index, new.result)
