"""fold: constant folding and BatchNorm folding.

Constant folding: an op whose operands are all constants is computed now, with the
interpreter's own kernels, and replaced by a constant:

    op(const a, const b)  ->  const op(a, b)

Affine folding: a per-channel affine op y = x * k + c (batch_norm, or mul/div/add/sub by a
per-channel constant; passes/affine.py) right after a conv or gemm whose only reader it is:

    affine(conv(x, w, b))  ->  conv(x, w * k[:, None, ...], b * k + c)
    affine(gemm(a, w, d))  ->  gemm(a, alpha * w * k (along the output axis), beta * d * k + c)

For batch_norm, k = scale / sqrt(var + eps) and c = bias - mean * k.

Shape folding: an op whose operand types alone give its result (`from_types` in the op's
declaration: shape and size of a static tensor) becomes a constant, and a shape-like parameter
given as an operand (`shape_params`: reshape's shape, slice's bounds, ...) that is a constant
becomes the attribute:

    shape(x : tensor<2x3xf32>)   ->  const [2, 3]
    reshape(x, const [6, -1])    ->  reshape(x) {shape=[6, -1]}

Constants that become unused are removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from irc.ir.evaluator import evaluate_op
from irc.ir.generic import is_foldable, is_generic_name
from irc.ir.graph import INLINE_LIMIT, Graph
from irc.ir.op import Op
from irc.ir.registry import VerifyError, is_bookkeeping
from irc.ir.types import types_compatible

from .affine import AFFINE_OPS, channel_affine
from .base import Pass, PassContext, PassError, register_pass
from .dce import remove_dead_ops
from .rewrite import RewriteRule, Rewriter, apply_rules



def _from_types(op: Op) -> list[np.ndarray] | None:
    """The result of `op` when its declaration derives it from the operand types alone."""
    defn = op.defn
    if defn is None or defn.from_types is None:
        return None
    value = defn.from_types(defn.signature([v.type for v in op.operands], op.attrs))
    return None if value is None else [value]


def _foldable(op: Op) -> bool:
    return is_foldable(op) if is_generic_name(op.name) else not is_bookkeeping(op.name)


class FoldConstant(RewriteRule):
    """op(const a, const b) -> const op(a, b); also an op whose operand types give its result.

    Results larger than `max_elements` stay computed (folding would bloat the weights)."""

    def __init__(self, max_elements: int = 1 << 24) -> None:
        self.max_elements = max_elements

    def apply(self, op: Op, rw: Rewriter) -> bool:
        graph = rw.graph
        if not op.operands or not _foldable(op):
            return False
        outs = _from_types(op)
        if outs is None:
            found = [graph.const_value(v) for v in op.operands]
            arrays = [a for a in found if a is not None]
            if len(arrays) < len(found):
                return False
            if any(r.type.numel is not None and r.type.numel > self.max_elements for r in op.results):
                return False
            outs = evaluate_op(op, arrays)
        outs = [np.asarray(a, dtype=r.type.dtype) for r, a in zip(op.results, outs)]
        if any(a.size > self.max_elements for a in outs):
            return False
        new_values = []
        for r, arr in zip(op.results, outs):
            # a result whose type left dims open (a generic op, nonzero) gets the array's shape
            t = r.type if r.type.is_static else r.type.with_shape(arr.shape)
            if not types_compatible(t, r.type):
                raise PassError(f"pass 'fold': {op.name} {op.label} computed a result of shape "
                                f"{list(arr.shape)}, but it is typed {r.type}")
            arr = arr.reshape(t.static_shape())
            new_values.append(rw.const(arr, r.name or "folded", inline=arr.size <= INLINE_LIMIT, type=t, before=op))
        rw.replace_op(op, new_values)
        return True


class ShapeOperandsToAttrs(RewriteRule):
    """reshape(x, const [6, -1]) -> reshape(x) {shape=[6, -1]}: constant shape-like operands
    become the attributes their declaration names (`shape_params`)."""

    def apply(self, op: Op, rw: Rewriter) -> bool:
        graph = rw.graph
        params = op.defn.shape_params if op.defn is not None else ()
        if not params:
            return False
        operands = {k: op.operand(k) for k in params}
        given = [(k, v) for k, v in operands.items() if v is not None]
        values = [graph.const_value(v) for _, v in given]
        if not given or any(a is None for a in values):
            return False
        keep = [v for v in op.operands if all(v is not p for _, p in given)]
        attrs = dict(op.attrs)
        for (k, _), a in zip(given, values):
            attrs[k] = tuple(int(x) for x in np.asarray(a).reshape(-1))
        defn = op.defn
        try:  # the attribute form must give a type the declared one fits
            inferred = defn.infer_types([v.type for v in keep], defn.normalize_attrs(attrs))
        except VerifyError:
            return False
        if any(not types_compatible(r.type.with_element(t.element), t) for r, t in zip(op.results, inferred)):
            return False
        op.attrs = defn.normalize_attrs(attrs)
        op.set_operands(keep)
        for r, t in zip(op.results, inferred):
            r.type = _more_precise(r.type, t)
        return True


def _more_precise(declared, inferred):
    """`declared` with its unknown dims filled in where `inferred` knows them."""
    if declared.shape is None or inferred.shape is None or len(declared.shape) != len(inferred.shape):
        return declared
    return declared.with_shape(d if d is not None else i for d, i in zip(declared.shape, inferred.shape))


def _fold_into_conv(rw: Rewriter, conv: Op, aff: Op, k: np.ndarray, c: np.ndarray) -> bool:
    graph = rw.graph
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
    return _rewrite_weights(rw, conv, aff, new_w.astype(np.float32), new_b, bias_index=2)


def _fold_into_gemm(rw: Rewriter, gemm: Op, aff: Op, k: np.ndarray, c: np.ndarray) -> bool:
    graph = rw.graph
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
    return _rewrite_weights(rw, gemm, aff, new_w.astype(np.float32), new_c, bias_index=2)


def _rewrite_weights(rw: Rewriter, op: Op, aff: Op, new_w: np.ndarray, new_b: np.ndarray, bias_index: int) -> bool:
    w_val = op.operands[1]
    base = (w_val.name or "w").removesuffix("_folded") + "_folded"
    nw = rw.const(new_w, base, type=w_val.type, before=op)
    op.set_operand(1, nw)
    nb = rw.const(new_b, base + "_bias", before=op)
    if len(op.operands) > bias_index:
        op.set_operand(bias_index, nb)
    else:
        op.set_operands([*op.operands, nb])
    rw.replace_op(aff, [op.result])
    rw.changed(op)
    return True


class FoldAffine(RewriteRule):
    """affine(conv(x, w, b)) -> conv(x, w * k, b * k + c), and the same into gemm: a per-channel
    affine op (passes/affine.py) folded into the conv, conv_transpose or gemm whose only reader
    it is."""

    roots = AFFINE_OPS

    def apply(self, aff: Op, rw: Rewriter) -> bool:
        found = channel_affine(rw.graph, aff)
        if found is None:
            return False
        x, k, c = found
        producer = x.producer
        if producer is None or len(x.uses) != 1 or producer.attrs.get("activation"):
            return False
        if producer.name in ("conv", "conv_transpose"):
            return _fold_into_conv(rw, producer, aff, k, c)
        if producer.name == "gemm" and x.type.rank == 2:
            return _fold_into_gemm(rw, producer, aff, k, c)
        return False


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
        rules: list[RewriteRule] = [FoldConstant(self.max_elements), ShapeOperandsToAttrs()]
        if self.batch_norm:
            rules.append(FoldAffine())
        fired = apply_rules(graph, rules)
        n_const, n_params, n_bn = fired["FoldConstant"], fired["ShapeOperandsToAttrs"], fired["FoldAffine"]
        removed = remove_dead_ops(graph, ("const",))
        ctx.record(self.name, "ops folded", n_const)
        ctx.record(self.name, "shape operands made attributes", n_params)
        ctx.record(self.name, "affine ops folded", n_bn)
        return bool(n_const or n_params or n_bn or removed)
