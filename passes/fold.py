"""fold: constant folding and BatchNorm folding.

Constant folding: an op whose operands are all constants is computed now, with the
interpreter's own kernels, and replaced by a constant:

    op(const a, const b)  ->  const op(a, b)

Affine folding: a per-channel affine op y = x * k + c (batch_norm, or mul/div/add/sub by a
per-channel constant; passes/affine.py) right after a conv or gemm whose only reader it is:

    affine(conv(x, w, b))  ->  conv(x, w * k[:, None, ...], b * k + c)
    affine(gemm(a, w, d))  ->  gemm(a, alpha * w * k (along the output axis), beta * d * k + c)

For batch_norm, k = scale / sqrt(var + eps) and c = bias - mean * k.

Constants that become unused are removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from irc.ir.graph import INLINE_LIMIT, Graph
from irc.ir.op import Op

from .affine import AFFINE_OPS, channel_affine
from .base import Pass, PassContext, register_pass
from .dce import remove_dead_ops
from .evaluate import evaluate_op

NEVER_FOLD = {"const", "quantize", "dequantize"}


def fold_constants(graph: Graph, max_elements: int = 1 << 24) -> int:
    """Replace every op with constant operands by constants; returns how many were folded.

    Results larger than `max_elements` stay computed (folding would bloat the weights).
    """
    folded = 0
    for op in list(graph.ops):
        if op.name in NEVER_FOLD or not op.operands or op.graph is None:
            continue
        arrays = [graph.const_value(v) for v in op.operands]
        if any(a is None for a in arrays):
            continue
        if any(r.type.numel is None or r.type.numel > max_elements for r in op.results):
            continue
        outs = evaluate_op(op, arrays)
        new_values = []
        for r, arr in zip(op.results, outs):
            arr = np.asarray(arr, dtype=r.type.dtype).reshape(r.type.static_shape())
            new_values.append(graph.const(arr, r.name or "folded", inline=arr.size <= INLINE_LIMIT,
                                          type=r.type, before=op))
        names = [r.name for r in op.results]
        graph.replace_op(op, new_values)
        for v, n in zip(new_values, names):
            v.name = n
        folded += 1
    return folded


def _fold_into_conv(graph: Graph, conv: Op, aff: Op, k: np.ndarray, c: np.ndarray) -> bool:
    w = graph.const_value(conv.operands[1])
    b = graph.const_value(conv.operands[2]) if len(conv.operands) > 2 else None
    if w is None or (len(conv.operands) > 2 and b is None):
        return False
    if conv.name == "conv_transpose":
        # weights are (C_in, C_out / group, k...): the output channel is axis 1, per group
        group = conv.attr("group")
        cin, cout_g = w.shape[0], w.shape[1]
        wg = w.reshape(group, cin // group, cout_g, *w.shape[2:])
        kg = k.reshape(group, 1, cout_g, *([1] * (w.ndim - 2)))
        new_w = (wg * kg).reshape(w.shape)
    else:
        new_w = w * k.reshape(-1, *([1] * (w.ndim - 1)))
    b0 = b if b is not None else np.zeros_like(k)
    new_b = (b0 * k + c).astype(np.float32)
    return _rewrite_weights(graph, conv, aff, new_w.astype(np.float32), new_b, bias_index=2)


def _fold_into_gemm(graph: Graph, gemm: Op, aff: Op, k: np.ndarray, c: np.ndarray) -> bool:
    w = graph.const_value(gemm.operands[1])
    bias = graph.const_value(gemm.operands[2]) if len(gemm.operands) > 2 else None
    if w is None or (len(gemm.operands) > 2 and bias is None):
        return False
    n = k.shape[0]
    if bias is not None and (bias.size not in (1, n) or (bias.ndim == 2 and bias.shape[0] != 1)):
        return False
    alpha, beta = gemm.attr("alpha"), gemm.attr("beta")
    new_w = w * (k[:, None] if gemm.attr("trans_b") else k[None, :]) * np.float32(alpha)
    c0 = (np.broadcast_to(bias.reshape(-1), (n,)) * np.float32(beta)) if bias is not None else np.zeros_like(k)
    new_c = (c0 * k + c).astype(np.float32)
    gemm.attrs.pop("alpha", None)
    gemm.attrs.pop("beta", None)
    return _rewrite_weights(graph, gemm, aff, new_w.astype(np.float32), new_c, bias_index=2)


def _rewrite_weights(graph: Graph, op: Op, aff: Op, new_w: np.ndarray, new_b: np.ndarray, bias_index: int) -> bool:
    w_val = op.operands[1]
    base = (w_val.name or "w").removesuffix("_folded") + "_folded"
    nw = graph.const(new_w, base, type=w_val.type, before=op)
    op.set_operand(1, nw)
    nb = graph.const(new_b, base + "_bias", before=op)
    if len(op.operands) > bias_index:
        op.set_operand(bias_index, nb)
    else:
        op.set_operands([*op.operands, nb])
    name = aff.result.name
    aff.result.replace_all_uses_with(op.result)
    graph.erase(aff)
    op.result.name = name
    return True


def fold_affine_ops(graph: Graph, kinds: tuple[str, ...] = AFFINE_OPS) -> int:
    """Fold per-channel affine ops (passes/affine.py) into the conv/gemm whose only reader they are."""
    folded = 0
    for aff in list(graph.ops):
        if aff.name not in kinds or aff.graph is None:
            continue
        found = channel_affine(graph, aff)
        if found is None:
            continue
        x, k, c = found
        producer = x.producer
        if producer is None or len(x.uses) != 1 or producer.attrs.get("activation"):
            continue
        if producer.name in ("conv", "conv_transpose") and _fold_into_conv(graph, producer, aff, k, c):
            folded += 1
        elif producer.name == "gemm" and x.type.rank == 2 and _fold_into_gemm(graph, producer, aff, k, c):
            folded += 1
    return folded


@register_pass
@dataclass(frozen=True)
class Fold(Pass):
    """Fold constant subexpressions and inference BatchNorm into the preceding conv/gemm."""

    name: ClassVar[str] = "fold"
    batch_norm: bool = True
    """Fold batch_norm and per-channel mul/div/add/sub into a preceding conv, conv_transpose or gemm."""
    max_elements: int = 1 << 24
    """Do not fold ops whose result has more elements than this."""

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        n_const = fold_constants(graph, self.max_elements)
        n_bn = fold_affine_ops(graph) if self.batch_norm else 0
        removed = remove_dead_ops(graph, ("const",))
        ctx.record(self.name, "ops folded", n_const)
        ctx.record(self.name, "affine ops folded", n_bn)
        return bool(n_const or n_bn or removed)
