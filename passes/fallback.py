"""fallback: keep chosen ops in fp32 when the graph is quantized (mixed precision).

    fold,fuse,calibrate,fallback{ops=conv_3,conv_7},quantize

marks each named op (named by its first result, as `irc opt` prints it) with the discardable
attribute `q.fallback` (its value says who asked: "manual" for this pass, "budget" for the
accuracy-budget search). The quantize pass leaves marked ops in float and puts the casts at the
borders: a `dequantize` where a marked op reads an int8 value, a `quantize` where an int8 op
reads a marked op's result. The rest of the graph stays int8, so onnxruntime still fuses every
remaining int8 conv / gemm / matmul into its int8 kernel.

A name may be a shell-style pattern (`/features/features.5/*`, `conv_?`) that selects every op it
matches. Data-movement ops (reshape, max_pool, ...) follow their operand and need not be named.
The pass runs before `quantize`: on an already quantized graph it stops with a message saying
where to put it.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import ClassVar, Iterable

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.registry import is_bookkeeping

from .base import Pass, PassContext, PassError, register_pass

FALLBACK_KEY = "q.fallback"
"""Discardable op attribute: the op stays fp32 when the graph is quantized."""



def is_fallback(op: Op) -> bool:
    return FALLBACK_KEY in op.attrs


def is_quantized_graph(graph: Graph) -> bool:
    """Has the quantize pass already run (any quantize op or quantized result)?"""
    return any(op.name == "quantize" or (op.name != "const" and any(r.type.is_quantized for r in op.results))
               for op in graph.ops)


def select_ops(graph: Graph, names: Iterable[str], what: str = "pass 'fallback'") -> list[Op]:
    """The ops named by `names` (labels or shell patterns), in graph order; an unknown name is an
    error that lists the closest op names."""
    ops = [op for op in graph.ops if not is_bookkeeping(op.name) and op.results and op.results[0].name]
    by_label = {op.label: op for op in ops}
    chosen: dict[int, Op] = {}
    for name in names:
        if any(c in name for c in "*?["):
            hits = [op for op in ops if fnmatch.fnmatchcase(op.label, name)]
            if not hits:
                raise PassError(f"{what}: pattern {name!r} matches no op{_suggest(name, list(by_label))}")
        else:
            op = by_label.get(name)
            if op is None:
                const = any(o.name == "const" and o.label == name for o in graph.ops)
                why = " (it is a constant, not an op)" if const else ""
                raise PassError(f"{what}: no op named {name!r}{why}{_suggest(name, list(by_label))}")
            hits = [op]
        for op in hits:
            chosen[id(op)] = op
    return [op for op in graph.ops if id(op) in chosen]


def _suggest(name: str, labels: list[str]) -> str:
    close = difflib.get_close_matches(name, labels, n=5, cutoff=0.5)
    if not close:
        # long generated names differ in one digit; compare their tails too
        tails = {label[-len(name):]: label for label in labels if len(label) > len(name)}
        close = [tails[t] for t in difflib.get_close_matches(name, list(tails), n=5, cutoff=0.6)]
    if close:
        return "; closest names: " + ", ".join(close)
    sample = ", ".join(labels[:8]) + (", ..." if len(labels) > 8 else "")
    return f"; ops are named by their first result, e.g. {sample}" if labels else "; the graph has no ops"


def mark_fallback(graph: Graph, ops: Iterable[Op], reason: str) -> int:
    """Mark `ops` to stay fp32; returns how many were not marked before."""
    new = 0
    for op in ops:
        if FALLBACK_KEY not in op.attrs:
            new += 1
            op.attrs[FALLBACK_KEY] = reason
    return new


@register_pass
@dataclass(frozen=True)
class Fallback(Pass):
    """Keep the named ops in fp32 when quantize runs (mixed precision, casts at the borders)."""

    name: ClassVar[str] = "fallback"
    ops: tuple[str, ...] = ()
    """Ops to keep in fp32, by the name of their first result (shell patterns allowed)."""

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        if not self.ops:
            raise PassError("pass 'fallback': give the ops to keep in fp32, e.g. fallback{ops=conv_3,conv_7}")
        if is_quantized_graph(graph):
            raise PassError("pass 'fallback': the graph is already quantized; fallback marks ops for the "
                            "quantize pass, so it must run before it, e.g. "
                            "--pipeline=fold,fuse,calibrate,fallback{ops=...},quantize")
        chosen = select_ops(graph, self.ops)
        new = mark_fallback(graph, chosen, "manual")
        ctx.record(self.name, "ops kept in fp32", len(chosen))
        return new > 0
