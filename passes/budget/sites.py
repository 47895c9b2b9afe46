"""Error sites of a quantized graph: where quantization adds error, and which ops remove it.

Quantization adds error at *sites*:

    activation site   a tensor stored as int8: the result of an int8 op, or a float value that a
                      `quantize` feeds to int8 ops (data-movement ops share their operand's
                      tensor, so they belong to its site)
    weights site      the int8 weights (and int32 bias) of one conv / gemm / matmul

A site's error disappears only when every op that touches it is fp32: for an activation, the
op that produces it and every int8 op that reads it (through data-movement ops); for weights,
the op itself. That set of ops is the site's *group*. Returning one op alone to fp32 often
removes nothing: the int8 tensor it reads is still int8.

The sites are read off a quantized copy of the float graph (`quantized_copy`), which keeps the
map from its ops and values back to the float graph's. Also here: multiply-accumulate counts per
op (what an int8 kernel saves) and the casts (dequantize, fake-quantize) as the interpreter's
kernels compute them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from irc.ir.evaluator import evaluate_op
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.registry import is_bookkeeping
from irc.ir.types import QuantType, TensorType, known_product
from irc.ir.value import Value

from ..clone import clone_graph
from ..quantize import ACTIVATIONS, COMPUTE, REQUANTIZE



@dataclass
class Site:
    """One source of quantization error and the ops that must be fp32 to remove it."""

    kind: str                    # "activation" or "weights"
    name: str                    # the tensor's name, or the op's name for weights
    group: tuple[str, ...]       # names of the ops to return to fp32, in graph order
    value: Value | None = None   # activation: the float graph's value
    qtype: QuantType | None = None
    op: Op | None = None         # weights: the float graph's op
    weights: dict[int, np.ndarray] = field(default_factory=dict)  # operand index -> dequantized array
    harm: float = 0.0

    @property
    def tensor(self) -> Value:
        """An activation site's value (an error for a weights site)."""
        if self.value is None:
            raise ValueError(f"site {self.label}: not an activation site")
        return self.value

    @property
    def tensor_type(self) -> QuantType:
        """An activation site's int8 type."""
        if self.qtype is None:
            raise ValueError(f"site {self.label}: no int8 type")
        return self.qtype

    @property
    def compute_op(self) -> Op:
        """A weights site's op (an error for an activation site)."""
        if self.op is None:
            raise ValueError(f"site {self.label}: not a weights site")
        return self.op

    @property
    def sqnr_db(self) -> float:
        return math.inf if self.harm <= 0 else 10.0 * math.log10(1.0 / self.harm)

    @property
    def label(self) -> str:
        return f"{self.name} (weights)" if self.kind == "weights" else self.name


@dataclass
class OpInfo:
    """A quantizable op of the float graph."""

    name: str
    kind: str
    macs: int
    index: int


@dataclass
class QuantizedCopy:
    """A quantized copy of the float graph and the map from its parts back to the float graph."""

    graph: Graph
    float_op: dict[int, Op]        # id(op of the copy) -> op of the float graph
    float_value: dict[int, Value]  # id(value of the copy) -> value of the float graph

    def float_name(self, op: Op) -> str | None:
        f = self.float_op.get(id(op))
        return f.label if f is not None else None


def quantized_copy(float_graph: Graph, make: Callable[[Graph], None]) -> QuantizedCopy:
    """Copy the float graph, run `make` (the quantize pass, ...) on the copy, keep the maps."""
    g, ops = clone_graph(float_graph)
    float_op = {id(c): f for c, f in zip(ops, float_graph.ops)}
    float_value = {id(c): f for c, f in zip(g.inputs, float_graph.inputs)}
    for c, f in zip(ops, float_graph.ops):
        for cr, fr in zip(c.results, f.results):
            float_value[id(cr)] = fr
    make(g)
    return QuantizedCopy(g, float_op, float_value)


def is_int8(op: Op) -> bool:
    """An op that computes on integers: a quantized result, or quantized operands (a matmul with a
    float result, a dynamic_matmul)."""
    return not is_bookkeeping(op.name) and any(v.type.is_quantized for v in [*op.results, *op.operands])


CANDIDATE_KINDS = COMPUTE + REQUANTIZE + ACTIVATIONS + ("dynamic_matmul",)


def candidates(q: QuantizedCopy) -> list[Op]:
    """Ops of the quantized copy that are int8 and may go back to fp32 (compute, requantizing
    and activation ops with their own result type; data-movement ops follow their operand)."""
    return [op for op in q.graph.ops if id(op) in q.float_op and is_int8(op) and op.name in CANDIDATE_KINDS]


def _readers(v: Value, cand: set[int]) -> list[Op]:
    """Candidate ops reading the int8 value v, directly or through data-movement ops."""
    out: list[Op] = []
    stack = [v]
    seen: set[int] = set()
    while stack:
        x = stack.pop()
        for u in x.uses:
            op = u.op
            if id(op) in seen:
                continue
            seen.add(id(op))
            if id(op) in cand:
                out.append(op)
            elif is_int8(op):  # data movement on the same int8 tensor
                stack.extend(r for r in op.results if r.type.is_quantized)
    return out


def find_sites(q: QuantizedCopy) -> list[Site]:
    """Every activation and weights site of the quantized copy, in graph order."""
    from ..fallback import is_fallback

    cand_ops = candidates(q)
    cand = {id(op) for op in cand_ops}
    order = {id(op): i for i, op in enumerate(q.graph.ops)}
    g = q.graph
    sites: list[Site] = []

    def names(ops: Iterable[Op]) -> tuple[str, ...]:
        # every op of a site has its float original (the groups below are filtered through float_op)
        return tuple(q.float_op[id(o)].label for o in sorted(ops, key=lambda o: order[id(o)]))

    for op in g.ops:
        if op.name == "quantize":
            fv = q.float_value.get(id(op.operands[0]))
            producer = None
        elif id(op) in cand:
            fv = None
            producer = op
        else:
            continue
        for r in op.results:
            if not r.type.is_quantized:
                continue
            value = fv if fv is not None else q.float_value[id(r)]
            group = ([producer] if producer is not None else []) + _readers(r, cand)
            group = [o for o in group if not is_fallback(q.float_op[id(o)])]
            if not group or value is None:
                continue
            sites.append(Site("activation", value.name or "?", names(group), value=value, qtype=r.type.quant))
    for op in cand_ops:
        if op.name not in COMPUTE + ("dynamic_matmul",):
            continue
        w = {}
        for i in (1, 2):
            if i < len(op.operands) and op.operands[i].type.is_quantized:
                arr = g.const_value(op.operands[i])
                if arr is not None:
                    w[i] = dequantize(arr, op.operands[i].type)
        if w:
            fop = q.float_op[id(op)]
            sites.append(Site("weights", fop.label, (fop.label,), op=fop, weights=w))
    return sites


def op_infos(float_graph: Graph, q: QuantizedCopy) -> dict[str, OpInfo]:
    """The candidate ops by name, with their multiply-accumulates per sample."""
    index = {id(op): i for i, op in enumerate(float_graph.ops)}
    out = {}
    for op in candidates(q):
        f = q.float_op[id(op)]
        out[f.label] = OpInfo(f.label, f.name, macs(f), index[id(f)])
    return out


def macs(op: Op) -> int:
    """Multiply-accumulates per sample (symbolic dims count as 1): result elements times the
    declaration's `macs_per_output` (1 for ops without one)."""
    out = known_product(op.results[0].type.dims)
    defn = op.defn
    if defn is None or defn.macs_per_output is None or len(op.operands) < 2:
        return out
    return out * int(defn.macs_per_output(defn.signature([v.type for v in op.operands], op.attrs)))


# -- casts ------------------------------------------------------------------------------------

def _cast(kind: str, array: np.ndarray, src: TensorType, dst: TensorType) -> np.ndarray:
    op = Op(kind, [Value(src)], [dst])
    return evaluate_op(op, [array])[0]


def dequantize(stored: np.ndarray, t: TensorType) -> np.ndarray:
    return _cast("dequantize", stored, t, t.with_element("f32"))


def fake_quantize(x: np.ndarray, t: TensorType, qt: QuantType) -> np.ndarray:
    """dequantize(quantize(x)) with the int8 type qt: the value an int8 tensor stands for."""
    qtype = t.with_element(qt)
    return _cast("dequantize", _cast("quantize", x, t, qtype), qtype, t)
