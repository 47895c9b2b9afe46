"""fuse: rewrite op groups into the single ops int8 kernels execute.

    sum(a, b)                     -> add(a, b)
    sum(a, b, c, ...)             -> add(add(a, b), c) ...
    sum(a)                        -> a
    matmul(a, W) + c              -> gemm(a, W, c)         a 2-D, W and c constants, c of N or 1 x N
    affine_n(...affine_1(x))      -> conv(x, k, c) {group=C}   a chain of per-channel affine ops
                                     (batch_norm, mul/div/add/sub by per-channel constants; see
                                     passes/affine.py) on an N x C x ... feature map (passes/
                                     feature_map.py: derived from a conv, a pool or an image
                                     input) becomes one depthwise 1x1 conv; on any other tensor
                                     (a transformer's B x S x D) the ops stay as they are
    relu(op(...))                 -> op(...) {activation="relu", activation_min=0.0}
    clip(op(...)) {min=l max=h}   -> op(...) {activation="clip", activation_min=l, activation_max=h}

where op is conv, gemm, matmul (or any op declaring the fused-activation attributes) whose
result only the activation reads, and the activation's result has the op's type (an int8 relu
that requantizes to parameters of its own stays). An int8 matmul is not made a gemm. The fused op keeps its own name unless the activation's result
was a graph output, whose name it then takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from irc.ir.graph import Graph
from irc.ir.op import Op

from .affine import channel_affine
from .base import Pass, PassContext, register_pass
from .feature_map import is_feature_map
from .pad_into_conv import PadIntoConv
from .rewrite import RewriteRule, Rewriter, apply_rules


def only_user(op: Op) -> Op | None:
    """The single op reading op's single result, if there is exactly one use."""
    if len(op.results) != 1 or len(op.result.uses) != 1:
        return None
    user = op.result.uses[0].op
    return None if user.name == "return" else user


class SumToAdds(RewriteRule):
    """sum(a) -> a; sum(a, b, c, ...) -> add(add(a, b), c) ..."""

    roots = ("sum",)

    def apply(self, op: Op, rw: Rewriter) -> bool:
        operands = list(op.operands)
        if len(operands) == 1:
            rw.replace_op(op, [operands[0]], rename=False)  # the operand keeps its own name
            return True
        acc = operands[0]
        name = op.result.name
        for i, v in enumerate(operands[1:], 1):
            last = i == len(operands) - 1
            acc = rw.create("add", [acc, v], names=[name if last else None], before=op).result
        rw.replace_op(op, [acc])
        return True


class MatmulAddToGemm(RewriteRule):
    """add(matmul(a, W), c) -> gemm(a, W, c): a 2-D, W and c constants, c of N or 1 x N."""

    roots = ("matmul",)

    def apply(self, mm: Op, rw: Rewriter) -> bool:
        graph = rw.graph
        if mm.attrs.get("activation") or mm.result.type.is_quantized:
            return False
        a, w = mm.operands
        add = only_user(mm)
        if add is None or add.name != "add" or a.type.rank != 2 or w.type.rank != 2:
            return False
        if graph.const_value(w) is None:
            return False
        bias = add.operands[1] if add.operands[0] is mm.result else add.operands[0]
        n = w.type.dims[1]
        if graph.const_value(bias) is None or tuple(bias.type.dims) not in ((n,), (1, n)):
            return False
        gemm = rw.create("gemm", [a, w, bias], names=[add.result.name], before=add)
        rw.replace_op(add, [gemm.result])
        rw.erase(mm)
        return True


class AffineChainToConv(RewriteRule):
    """A maximal chain of per-channel affine ops on a CNN feature map -> one depthwise 1x1 conv
    (a chain whose scale and shift are the same for every channel stays as it is)."""

    def apply(self, first: Op, rw: Rewriter) -> bool:
        graph = rw.graph
        found = channel_affine(graph, first)
        if found is None:
            return False
        x, k, c = found
        if x.type.rank < 3 or x.type.rank > 5 or not is_feature_map(graph, x):
            return False  # a scalar mul in a GELU, a mask add on scores: no conv over a sequence axis
        channels = x.type.dims[1]
        if not isinstance(channels, int):
            return False  # the conv's weight needs the channel count
        chain, last = [first], first
        while True:
            nxt = only_user(last)
            step = channel_affine(graph, nxt) if nxt is not None else None
            if nxt is None or step is None or step[0] is not last.result:
                break
            _, k2, c2 = step
            k, c = (k * k2).astype(np.float32), (c * k2 + c2).astype(np.float32)
            chain.append(nxt)
            last = nxt
        if np.all(k == k.flat[0]) and np.all(c == c.flat[0]):
            # one scale and one shift for every channel (GELU's x / sqrt(2), erf + 1, * 0.5): an
            # elementwise op onnxruntime runs in one pass or fuses (Gelu); a conv would break that
            return False
        w = rw.const(k.reshape(channels, 1, *([1] * (x.type.rank - 2))), f"{last.result.name or 'affine'}_w",
                     before=first)
        b = rw.const(c, f"{last.result.name or 'affine'}_b", before=first)
        conv = rw.create("conv", [x, w, b], {"group": channels} if channels > 1 else {},
                         names=[last.result.name], before=first)
        rw.replace_value(last.result, conv.result)
        for op in reversed(chain):
            rw.erase(op)
        return True


def _activation_bounds(act: Op) -> tuple[str, float, float]:
    if act.name == "relu":
        return "relu", 0.0, float("inf")
    lo, hi = act.attr("min"), act.attr("max")
    return "clip", float("-inf") if lo is None else lo, float("inf") if hi is None else hi


class FuseActivation(RewriteRule):
    """relu/clip(op(...)) -> op(...) {activation=..., activation_min/max=...} for an op that
    declares the fused-activation attributes and whose result only the activation reads."""

    roots = ("relu", "clip")

    def apply(self, act: Op, rw: Rewriter) -> bool:
        graph = rw.graph
        producer = act.operands[0].producer
        if producer is None or producer.defn is None or "activation" not in producer.defn.attrs:
            return False
        if producer.attrs.get("activation") or only_user(producer) is not act:
            return False
        if act.result.type != producer.result.type:
            return False  # an int8 relu / clip requantizes to a type of its own
        kind, lo, hi = _activation_bounds(act)
        producer.attrs["activation"] = kind
        if lo != float("-inf"):
            producer.attrs["activation_min"] = lo
        if hi != float("inf"):
            producer.attrs["activation_max"] = hi
        is_output = any(u.op is graph.return_op for u in act.result.uses)
        name = act.result.name
        rw.replace_op(act, [producer.result], rename=False)  # the fused op keeps its name ...
        if is_output:
            producer.result.name = name  # ... unless the activation's result is a graph output
        rw.changed(producer)
        return True


@register_pass
@dataclass(frozen=True)
class Fuse(Pass):
    """Fuse op groups that int8 kernels run as one: sum->add, matmul+add->gemm, affine->conv, zero pad->conv,
    op+relu/clip."""

    name: ClassVar[str] = "fuse"
    activations: bool = True
    """Fold relu/clip into the conv, gemm or matmul before them."""

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        # one rule set after the other, in this order: a sum must be adds before an add can
        # become a gemm's bias, and an activation fuses into the op the earlier rules made
        sums = apply_rules(graph, [SumToAdds()])["SumToAdds"]
        gemms = apply_rules(graph, [MatmulAddToGemm()])["MatmulAddToGemm"]
        affine = apply_rules(graph, [AffineChainToConv()])["AffineChainToConv"]
        pads = apply_rules(graph, [PadIntoConv()])["PadIntoConv"]
        acts = apply_rules(graph, [FuseActivation()])["FuseActivation"] if self.activations else 0
        ctx.record(self.name, "sums rewritten", sums)
        ctx.record(self.name, "matmul+add fused", gemms)
        ctx.record(self.name, "affine chains to conv", affine)
        ctx.record(self.name, "zero pads into conv", pads)
        ctx.record(self.name, "activations fused", acts)
        return bool(sums or gemms or affine or pads or acts)
