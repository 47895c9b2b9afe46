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
from irc.ir.registry import VerifyError
from irc.ir.types import types_compatible

from .affine import AFFINE_OPS, channel_affine
from .base import Pass, PassContext, PassError, register_pass
from .dce import remove_dead_ops

NEVER_FOLD = {"const", "quantize", "dequantize"}


def _from_types(op: Op) -> list[np.ndarray] | None:
    """The result of `op` when its declaration derives it from the operand types alone."""
    defn = op.defn
    if defn is None or defn.from_types is None:
        return None
    value = defn.from_types(defn.signature([v.type for v in op.operands], op.attrs))
    return None if value is None else [value]


def _foldable(op: Op) -> bool:
    return is_foldable(op) if is_generic_name(op.name) else op.name not in NEVER_FOLD


def fold_constants(graph: Graph, max_elements: int = 1 << 24) -> int:
    """Replace every op with constant operands (or whose result its operand types give) by
    constants; returns how many were folded.

    Results larger than `max_elements` stay computed (folding would bloat the weights).
    """
    folded = 0
    for op in list(graph.ops):
        if not op.operands or op.graph is None or not _foldable(op):
            continue
        outs = _from_types(op)
        if outs is None:
            found = [graph.const_value(v) for v in op.operands]
            arrays = [a for a in found if a is not None]
            if len(arrays) < len(found):
                continue
            if any(r.type.numel is not None and r.type.numel > max_elements for r in op.results):
                continue
            outs = evaluate_op(op, arrays)
        outs = [np.asarray(a, dtype=r.type.dtype) for r, a in zip(op.results, outs)]
        if any(a.size > max_elements for a in outs):
            continue
        new_values = []
        for r, arr in zip(op.results, outs):
            # a result whose type left dims open (a generic op, nonzero) gets the array's shape
            t = r.type if r.type.is_static else r.type.with_shape(arr.shape)
            if not types_compatible(t, r.type):
                raise PassError(f"pass 'fold': {op.name} {op.label} computed a result of shape "
                                f"{list(arr.shape)}, but it is typed {r.type}")
            arr = arr.reshape(t.static_shape())
            new_values.append(graph.const(arr, r.name or "folded", inline=arr.size <= INLINE_LIMIT,
                                          type=t, before=op))
        names = [r.name for r in op.results]
        graph.replace_op(op, new_values)
        for v, n in zip(new_values, names):
            v.name = n
        folded += 1
    return folded


def fold_shape_params(graph: Graph) -> int:
    """Turn constant shape-like operands into the attributes their declaration names."""
    folded = 0
    for op in list(graph.ops):
        params = op.defn.shape_params if op.defn is not None else ()
        if not params or op.graph is None:
            continue
        operands = {k: op.operand(k) for k in params}
        given = [(k, v) for k, v in operands.items() if v is not None]
        values = [graph.const_value(v) for _, v in given]
        if not given or any(a is None for a in values):
            continue
        keep = [v for v in op.operands if all(v is not p for _, p in given)]
        attrs = dict(op.attrs)
        for (k, _), a in zip(given, values):
            attrs[k] = tuple(int(x) for x in np.asarray(a).reshape(-1))
        defn = op.defn
        try:  # the attribute form must give a type the declared one fits
            inferred = defn.infer_types([v.type for v in keep], defn.normalize_attrs(attrs))
        except VerifyError:
            continue
        if any(not types_compatible(r.type.with_element(t.element), t) for r, t in zip(op.results, inferred)):
            continue
        op.attrs = defn.normalize_attrs(attrs)
        op.set_operands(keep)
        for r, t in zip(op.results, inferred):
            r.type = _more_precise(r.type, t)
        folded += 1
    return folded


def _more_precise(declared, inferred):
    """`declared` with its unknown dims filled in where `inferred` knows them."""
    if declared.shape is None or inferred.shape is None or len(declared.shape) != len(inferred.shape):
        return declared
    return declared.with_shape(d if d is not None else i for d, i in zip(declared.shape, inferred.shape))


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
        n_params = fold_shape_params(graph)
        n_bn = fold_affine_ops(graph) if self.batch_norm else 0
        removed = remove_dead_ops(graph, ("const",))
        ctx.record(self.name, "ops folded", n_const)
        ctx.record(self.name, "shape operands made attributes", n_params)
        ctx.record(self.name, "affine ops folded", n_bn)
        return bool(n_const or n_params or n_bn or removed)
