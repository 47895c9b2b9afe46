"""Sensitivity: the harm of each error site (passes/budget/sites.py), measured without full evaluations.

The *harm* of a site is the relative noise power at the graph outputs when only that site is
quantized and everything else computes in fp32,

    harm = mean over outputs of  sum (y_site - y_fp32)^2 / sum y_fp32^2     (on ranking samples)

so 10*log10(1/harm) is the output SQNR that site alone allows. Engines:

    interpreter   the numpy interpreter runs the float graph once and caches every activation;
                  for each site only the ops downstream of it are computed again
    onnxruntime   one fake-quantized copy of the float graph per site, run whole by onnxruntime
                  (optimizations off, so the Q/DQ pair is exactly the int8 rounding)
    local         no propagation: each site's consumers are computed again (from the cache) and
                  the noise is measured at their outputs — one pass in all, for large graphs
    auto          interpreter or onnxruntime, whichever `estimate_seconds` expects to be faster
                  (the same numbers either way: both propagate the error through the float graph)

Also here: the cumulative SQNR of every op's result in a quantized graph against the fp32
graph (for the report).
"""

from __future__ import annotations

import math
import time
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from irc.ir.evaluator import Evaluator, evaluate_op
from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.value import Value

from ..clone import clone_graph
from .sites import QuantizedCopy, Site, dequantize, fake_quantize, macs

ENGINES = ("auto", "interpreter", "onnxruntime", "local")


class NoiseMeter:
    """Relative output noise of outputs against reference outputs, summed over batches."""

    def __init__(self, n_outputs: int) -> None:
        self.noise = np.zeros(n_outputs)
        self.signal = np.zeros(n_outputs)

    def add(self, got: Sequence[np.ndarray], ref: Sequence[np.ndarray]) -> None:
        for i, (a, b) in enumerate(zip(got, ref)):
            a = np.asarray(a, dtype=np.float64)
            b = np.asarray(b, dtype=np.float64)
            self.noise[i] += float(((a - b) ** 2).sum())
            self.signal[i] += float((b * b).sum())

    def value(self) -> float:
        rel = [n / s if s > 0 else (0.0 if n == 0 else 1.0) for n, s in zip(self.noise, self.signal)]
        return float(np.mean(rel)) if rel else 0.0


class ActivationCache:
    """Every float activation of the float graph on the ranking batches (one interpreter pass).

    Memory is bounded by `max_bytes`: batches past that are dropped (the first one is always
    kept), so a large model is ranked on fewer samples rather than exhausting memory."""

    def __init__(self, graph: Graph, batches: Sequence[Mapping[str, np.ndarray]], evaluator: Evaluator,
                 max_bytes: int = 1 << 30) -> None:
        self.graph = graph
        values = list(graph.inputs) + [r for op in graph.ops if op.name != "const" for r in op.results]
        self.arrays: list[dict[int, np.ndarray]] = []
        self.batches: list[Mapping[str, np.ndarray]] = []
        self.bytes = 0
        for feeds in batches:
            got = evaluator.run(graph, feeds, values)
            size = sum(a.nbytes for a in got.values())
            if self.arrays and self.bytes + size > max_bytes:
                break
            self.arrays.append({id(v): a for v, a in got.items()})
            self.batches.append(feeds)
            self.bytes += size

    @property
    def samples(self) -> int:
        return sum(len(next(iter(f.values()))) for f in self.batches) if self.batches else 0

    def get(self, b: int, v: Value) -> np.ndarray:
        a = self.arrays[b].get(id(v))
        if a is None:
            a = self.graph.const_value(v)
        if a is None:
            raise KeyError(v)
        return a

    def outputs(self, b: int) -> list[np.ndarray]:
        return [self.get(b, v) for v in self.graph.outputs]


def _downstream(graph: Graph, start: int, seeds: set[int]) -> list[Op]:
    """Ops after index `start` that read, directly or not, a value in `seeds` (ids)."""
    live = set(seeds)
    out = []
    for op in graph.ops[start + 1:]:
        if op.name != "const" and any(id(v) in live for v in op.operands):
            out.append(op)
            live.update(id(r) for r in op.results)
    return out


def _inject(cache: ActivationCache, site: Site, b: int) -> dict[int, np.ndarray]:
    """The changed values (by id) right where the site is, for batch b."""
    if site.kind == "activation":
        v = site.tensor
        return {id(v): fake_quantize(cache.get(b, v), v.type, site.tensor_type)}
    op = site.compute_op
    args = [site.weights.get(i, cache.get(b, v)) if i in site.weights else cache.get(b, v)
            for i, v in enumerate(op.operands)]
    return {id(r): a for r, a in zip(op.results, evaluate_op(op, args))}


def _site_index(graph: Graph, site: Site) -> int:
    index = {id(op): i for i, op in enumerate(graph.ops)}
    if site.kind == "weights":
        return index[id(site.compute_op)]
    p = site.tensor.producer
    return index[id(p)] if p is not None else -1


def harm_interpreter(cache: ActivationCache, site: Site) -> float:
    """Propagate the site's error through the float graph, recomputing only downstream ops."""
    g = cache.graph
    start = _site_index(g, site)
    seeds = {id(site.tensor)} if site.kind == "activation" else {id(r) for r in site.compute_op.results}
    ops = _downstream(g, start, seeds)
    meter = NoiseMeter(len(g.outputs))
    for b in range(len(cache.batches)):
        changed = _inject(cache, site, b)
        for op in ops:
            args = [changed[id(v)] if id(v) in changed else cache.get(b, v) for v in op.operands]
            for r, a in zip(op.results, evaluate_op(op, args)):
                changed[id(r)] = a
        got = [changed.get(id(v), cache.get(b, v)) for v in g.outputs]
        meter.add(got, cache.outputs(b))
    return meter.value()


def harm_local(cache: ActivationCache, site: Site) -> float:
    """The site's error at the outputs of its first readers (no propagation further)."""
    g = cache.graph
    if site.kind == "weights":
        results = site.compute_op.results
        meter = NoiseMeter(len(results))
        for b in range(len(cache.batches)):
            changed = _inject(cache, site, b)
            meter.add([changed[id(r)] for r in results], [cache.get(b, r) for r in results])
        return meter.value()
    v = site.tensor
    group = set(site.group)
    readers = [u.op for u in v.uses if u.op is not g.return_op and u.op.name != "const"]
    # the tensor itself counts when nothing in the group reads it (e.g. a graph output)
    watch: list[Op | None] = [op for op in readers if op.label in group] or [None]
    worst = 0.0
    for op in watch:
        meter = NoiseMeter(1)
        for b in range(len(cache.batches)):
            fq = fake_quantize(cache.get(b, v), v.type, site.tensor_type)
            if op is None:
                meter.add([fq], [cache.get(b, v)])
                continue
            args = [fq if x is v else cache.get(b, x) for x in op.operands]
            meter.add([evaluate_op(op, args)[0]], [cache.get(b, op.results[0])])
        worst = max(worst, meter.value())
    return worst


def variant_graph(float_graph: Graph, site: Site) -> Graph:
    """A copy of the float graph in which only `site` is quantized (quantize/dequantize pair, or
    dequantized int8 weights)."""
    g, ops = clone_graph(float_graph)
    index = {id(op): i for i, op in enumerate(float_graph.ops)}
    if site.kind == "weights":
        op = ops[index[id(site.compute_op)]]
        for i, arr in site.weights.items():
            op.set_operand(i, g.const(arr, f"{op.operands[i].name or 'w'}_fq", inline=False, before=op))
        return g
    v = site.tensor
    after: Op | None = None
    if v.producer is None:
        gv = g.inputs[[id(x) for x in float_graph.inputs].index(id(v))]
        first: Op | None = g.ops[0]
    else:
        after = ops[index[id(v.producer)]]
        gv = after.results[v.result_index]
        first = None
    uses = list(gv.uses)
    q = g.create("quantize", [gv], types=[gv.type.with_element(site.tensor_type)], after=after, before=first)
    d = g.create("dequantize", [q.result], types=[gv.type], after=q)
    for u in uses:
        u.op.set_operand(u.index, d.result)
    return g


def harm_onnxruntime(float_graph: Graph, site: Site, batches: Sequence[Mapping[str, np.ndarray]],
                     reference: Sequence[Sequence[np.ndarray]], make_evaluator: Callable[[], Evaluator]) -> float:
    """Run the site's fake-quantized copy of the float graph whole and measure the output noise."""
    g = variant_graph(float_graph, site)
    ev = make_evaluator()
    try:
        meter = NoiseMeter(len(g.outputs))
        for feeds, ref in zip(batches, reference):
            got = ev.run(g, feeds, g.outputs)
            meter.add([got[v] for v in g.outputs], ref)
        return meter.value()
    finally:
        ev.close()


def estimate_seconds(graph: Graph, sites: Sequence[Site], batches: Sequence[Mapping[str, np.ndarray]],
                     interpreter: Evaluator, make_ort: Callable[[], Evaluator]) -> dict[str, float]:
    """Expected seconds of the interpreter and the onnxruntime engine for these sites, from one
    timed batch on each: the interpreter recomputes each site's downstream ops (weighted by their
    multiply-accumulates), onnxruntime builds a session and runs every batch per site."""
    values = list(graph.inputs) + [r for op in graph.ops if op.name != "const" for r in op.results]
    t = time.perf_counter()
    interpreter.run(graph, batches[0], values)
    t_interp = time.perf_counter() - t
    t = time.perf_counter()
    ev = make_ort()
    ev.run(graph, batches[0], graph.outputs)
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    ev.run(graph, batches[0], graph.outputs)
    t_run = time.perf_counter() - t
    ev.close()
    cost = {id(op): max(macs(op), 1) for op in graph.ops if op.name != "const"}
    total = float(sum(cost.values())) or 1.0
    index = {id(op): i for i, op in enumerate(graph.ops)}
    share = 0.0
    for s in sites:
        if s.kind == "weights":
            start, seeds = index[id(s.compute_op)], {id(r) for r in s.compute_op.results}
        else:
            producer = s.tensor.producer
            start, seeds = (index[id(producer)] if producer is not None else -1), {id(s.tensor)}
        down = _downstream(graph, start, seeds)
        share += (sum(cost[id(op)] for op in down) + (cost[id(s.compute_op)] if s.kind == "weights" else 0)) / total
    n = len(batches)
    return {"interpreter": t_interp * n * (1.0 + share),
            "onnxruntime": len(sites) * (max(t_first - t_run, 0.0) + t_run * n)}


# -- cumulative error of a quantized graph (for the report) -------------------------------------

def cumulative_sqnr(cache: ActivationCache, q: QuantizedCopy, evaluator: Evaluator,
                    names: Iterable[str]) -> dict[str, float]:
    """SQNR (dB) of each named op's result in the quantized copy against the float graph, on the
    cached batches: how much error has built up by that op (int8 results are dequantized)."""
    wanted = set(names)
    pairs: list[tuple[str, Value, Value]] = []
    for op in q.graph.ops:
        f = q.float_op.get(id(op))
        if f is None or f.label not in wanted or not op.results:
            continue
        pairs.append((f.label, op.results[0], f.results[0]))
    noise = {n: 0.0 for n, _, _ in pairs}
    signal = {n: 0.0 for n, _, _ in pairs}
    for b, feeds in enumerate(cache.batches):
        got = evaluator.run(q.graph, feeds, [v for _, v, _ in pairs])
        for n, v, fv in pairs:
            a = got[v]
            if v.type.is_quantized:
                a = dequantize(a, v.type)
            ref = cache.get(b, fv).astype(np.float64)
            noise[n] += float(((a.astype(np.float64) - ref) ** 2).sum())
            signal[n] += float((ref * ref).sum())
    out = {}
    for n in noise:
        if noise[n] == 0:
            out[n] = math.inf
        elif signal[n] == 0:
            out[n] = -math.inf
        else:
            out[n] = 10.0 * math.log10(signal[n] / noise[n])
    return out
