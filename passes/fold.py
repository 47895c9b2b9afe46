"""fold: constant folding and BatchNorm folding.

Constant folding: an op whose operands are all constants is computed now, with the
interpreter's own kernels, and replaced by a constant:

    op(const a, const b)  ->  const op(a, b)

BatchNorm folding (inference batch norm right after a conv or gemm whose only reader it is):

    k = scale / sqrt(var + eps)
    batch_norm(conv(x, w, b))  ->  conv(x, w * k[:, None, ...], (b - mean) * k + bias)
    batch_norm(gemm(a, w, c))  ->  gemm(a, w * k (along the output axis), (beta*c - mean) * k + bias)

Constants that become unused are removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from irc.ir.graph import INLINE_LIMIT, Graph
from irc.ir.op import Op

from .base import Pass, PassContext, register_pass
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


def _bn_params(graph: Graph, bn: Op):
    x, scale, bias, mean, var = bn.operands
    arrays = [graph.const_value(v) for v in (scale, bias, mean, var)]
    if any(a is None for a in arrays):
        return None
    scale, bias, mean, var = (a.astype(np.float32) for a in arrays)
    k = scale / np.sqrt(var + np.float32(bn.attr("epsilon")))
    return k.astype(np.float32), (bias - mean * k).astype(np.float32), k, mean, bias


def _fold_bn_into_conv(graph: Graph, conv: Op, bn: Op) -> bool:
    params = _bn_params(graph, bn)
    w = graph.const_value(conv.operands[1])
    b = graph.const_value(conv.operands[2]) if len(conv.operands) > 2 else None
    if params is None or w is None or (len(conv.operands) > 2 and b is None):
        return False
    k, _, _, mean, bias = params
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
    new_b = ((b0 - mean) * k + bias).astype(np.float32)
    return _rewrite_weights(graph, conv, bn, new_w.astype(np.float32), new_b, bias_index=2)


def _fold_bn_into_gemm(graph: Graph, gemm: Op, bn: Op) -> bool:
    if bn.operands[0].type.rank != 2:
        return False
    params = _bn_params(graph, bn)
    w = graph.const_value(gemm.operands[1])
    c = graph.const_value(gemm.operands[2]) if len(gemm.operands) > 2 else None
    if params is None or w is None or (len(gemm.operands) > 2 and c is None):
        return False
    k, _, _, mean, bias = params
    n = k.shape[0]
    if c is not None and c.size not in (1, n) or (c is not None and c.ndim == 2 and c.shape[0] != 1):
        return False
    alpha, beta = gemm.attr("alpha"), gemm.attr("beta")
    new_w = w * (k[:, None] if gemm.attr("trans_b") else k[None, :]) * np.float32(alpha)
    c0 = (np.broadcast_to(c.reshape(-1), (n,)) * np.float32(beta)) if c is not None else np.zeros_like(k)
    new_c = ((c0 - mean) * k + bias).astype(np.float32)
    gemm.attrs["alpha"] = 1.0
    gemm.attrs["beta"] = 1.0
    return _rewrite_weights(graph, gemm, bn, new_w.astype(np.float32), new_c, bias_index=2)


def _rewrite_weights(graph: Graph, op: Op, bn: Op, new_w: np.ndarray, new_b: np.ndarray, bias_index: int) -> bool:
    w_val = op.operands[1]
    nw = graph.const(new_w, (w_val.name or "w") + "_bn", type=w_val.type, before=op)
    op.set_operand(1, nw)
    nb = graph.const(new_b, (w_val.name or "w") + "_bn_bias", before=op)
    if len(op.operands) > bias_index:
        op.set_operand(bias_index, nb)
    else:
        op.set_operands([*op.operands, nb])
    name = bn.result.name
    bn.result.replace_all_uses_with(op.result)
    graph.erase(bn)
    op.result.name = name
    return True


def fold_batch_norms(graph: Graph) -> int:
    folded = 0
    for bn in list(graph.ops):
        if bn.name != "batch_norm" or bn.graph is None:
            continue
        producer = bn.operands[0].producer
        if producer is None or len(bn.operands[0].uses) != 1:
            continue
        if producer.name in ("conv", "conv_transpose") and _fold_bn_into_conv(graph, producer, bn):
            folded += 1
        elif producer.name == "gemm" and _fold_bn_into_gemm(graph, producer, bn):
            folded += 1
    return folded


def remove_dead_constants(graph: Graph) -> int:
    removed = 0
    for op in reversed(list(graph.ops)):
        if op.name == "const" and not op.result.uses:
            graph.erase(op)
            removed += 1
    return removed


@register_pass
@dataclass(frozen=True)
class Fold(Pass):
    """Fold constant subexpressions and inference BatchNorm into the preceding conv/gemm."""

    name: ClassVar[str] = "fold"
    batch_norm: bool = True
    """Fold batch_norm into a preceding conv, conv_transpose or gemm."""
    max_elements: int = 1 << 24
    """Do not fold ops whose result has more elements than this."""

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        n_const = fold_constants(graph, self.max_elements)
        n_bn = fold_batch_norms(graph) if self.batch_norm else 0
        removed = remove_dead_constants(graph)
        ctx.record(self.name, "ops folded", n_const)
        ctx.record(self.name, "batch norms folded", n_bn)
        return bool(n_const or n_bn or removed)
