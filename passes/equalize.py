"""equalize: cross-layer equalization of conv pairs (Nagel et al., data-free quantization).

For a conv `y1 = act(conv(x, W1, b1))` whose only reader is a second conv `conv(y1, W2, b2)`
(plain, or depthwise: one input channel per group), and act none or relu, every channel c of
y1 is divided by s_c > 0 and the second conv's weights reading channel c are multiplied by it:

    W1[c] <- W1[c] / s_c,   b1[c] <- b1[c] / s_c,   W2[:, c] <- W2[:, c] * s_c     (group 1)
                                                    W2[c]    <- W2[c] * s_c        (depthwise)

which leaves the second conv's result unchanged, since relu(v / s) = relu(v) / s for s > 0. With
r1_c = max|W1[c]| and r2_c = max|W2[.., c]|, s_c = sqrt(r1_c / r2_c) makes both ranges
sqrt(r1_c r2_c): the per-channel weight ranges of the two convs meet, so a channel whose
weights dwarf the others' (an outlier) no longer sets the first conv's output range alone.
A chain (expand -> depthwise -> project) is two pairs; the pass sweeps all pairs `sweeps`
times (each sweep moves the ranges towards a fixed point).

A clip (relu6) between the two is not positive-homogeneous: clip(v / s, 0, 6) is not
clip(v, 0, 6) / s unless s = 1, and a per-channel bound 6 / s_c has no per-tensor int8 form
(the bound is the output type's saturation). Such pairs are left as they are (statistic
`pairs left (clip between)`), as are pairs whose middle value has other readers or is a graph
output, grouped second convs that are not depthwise, and convs with dynamic weights. Channels
whose weights are all zero on either side keep s = 1. The scale is bounded to
[1 / max_scale, max_scale].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from irc.ir.graph import Graph
from irc.ir.op import Op

from .base import Pass, PassContext, PassError, register_pass
from .dce import remove_dead_ops
from .fallback import FALLBACK_KEY


def _activation(op: Op) -> str | None:
    """'none', 'relu' (scalable), or None (a clip or other bound: not scalable)."""
    kind = op.attrs.get("activation")
    if kind in (None, "", "none"):
        return "none"
    lo, hi = op.attrs.get("activation_min"), op.attrs.get("activation_max")
    if kind == "relu" and (lo is None or float(lo) == 0.0) and (hi is None or np.isinf(float(hi))):
        return "relu"
    return None


def _consts(graph: Graph, op: Op) -> bool:
    return (graph.const_value(op.operands[1]) is not None
            and (len(op.operands) < 3 or graph.const_value(op.operands[2]) is not None))


def find_pairs(graph: Graph) -> tuple[list[tuple[Op, Op]], int]:
    """(first conv, second conv) pairs that can be equalized, and how many have a clip between."""
    pairs, clipped = [], 0
    outputs = {id(v) for v in graph.outputs}
    for op in graph.ops:
        if op.name != "conv" or FALLBACK_KEY in op.attrs or not _consts(graph, op):
            continue
        y = op.results[0]
        if id(y) in outputs or len(y.uses) != 1:
            continue
        nxt = y.uses[0].op
        if (nxt.name != "conv" or nxt.operands[0] is not y or FALLBACK_KEY in nxt.attrs
                or not _consts(graph, nxt)):
            continue
        channels = y.type.dims[1]
        group = nxt.attr("group") or 1
        w2 = graph.const_array(nxt.operands[1])
        if not (group == 1 or (group == channels and w2.shape[1] == 1 and w2.shape[0] == channels)):
            continue
        if _activation(op) is None:
            clipped += 1
            continue
        pairs.append((op, nxt))
    return pairs, clipped


def _equalize_pair(graph: Graph, first: Op, second: Op, max_scale: float) -> float:
    """Rescale one pair; returns the largest |log s_c| applied."""
    w1 = graph.const_array(first.operands[1]).astype(np.float64)
    w2 = graph.const_array(second.operands[1]).astype(np.float64)
    depthwise = (second.attr("group") or 1) != 1
    r1 = np.abs(w1).reshape(w1.shape[0], -1).max(axis=1)
    r2 = (np.abs(w2).reshape(w2.shape[0], -1).max(axis=1) if depthwise
          else np.abs(w2).transpose(1, 0, *range(2, w2.ndim)).reshape(w2.shape[1], -1).max(axis=1))
    ok = (r1 > 0) & (r2 > 0)
    s = np.ones_like(r1)
    s[ok] = np.sqrt(r1[ok] / r2[ok])
    s = np.clip(s, 1.0 / max_scale, max_scale)
    shape1 = (-1,) + (1,) * (w1.ndim - 1)
    new_w1 = w1 / s.reshape(shape1)
    if depthwise:
        new_w2 = w2 * s.reshape(shape1)
    else:
        new_w2 = w2 * s.reshape((1, -1) + (1,) * (w2.ndim - 2))
    _replace(graph, first, 1, new_w1)
    if len(first.operands) > 2:
        b1 = graph.const_array(first.operands[2]).astype(np.float64).reshape(-1)
        _replace(graph, first, 2, b1 / s)
    _replace(graph, second, 1, new_w2)
    return float(np.abs(np.log(s)).max(initial=0.0))


def _replace(graph: Graph, op: Op, index: int, array: np.ndarray) -> None:
    old = op.operands[index]
    base = (old.name or "w").removesuffix("_eq") + "_eq"
    new = graph.const(array.astype(np.float32), base, type=old.type, before=op)
    op.set_operand(index, new)


@register_pass
@dataclass(frozen=True)
class Equalize(Pass):
    """Cross-layer equalization of conv -> [relu] -> conv pairs (depthwise too); exact in float."""

    name: ClassVar[str] = "equalize"
    sweeps: int = 4
    """Passes over all pairs."""
    max_scale: float = 1e4
    """Per-channel scales are kept in [1 / max-scale, max-scale]."""

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        if self.sweeps < 1 or not self.max_scale >= 1.0:
            raise PassError("pass 'equalize': sweeps must be at least 1 and max-scale at least 1")
        pairs, clipped = find_pairs(graph)
        largest = 0.0
        for _ in range(self.sweeps):
            for first, second in pairs:
                largest = max(largest, _equalize_pair(graph, first, second, self.max_scale))
        if pairs:
            remove_dead_ops(graph, ("const",))
        ctx.record(self.name, "pairs equalized", len(pairs))
        ctx.record(self.name, "pairs left (clip between)", clipped)
        ctx.record(self.name, "largest scale", round(float(np.exp(largest)), 4))
        return bool(pairs)
