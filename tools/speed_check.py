"""Speed-aware mixed precision: keep int8 only where onnxruntime runs it faster.

    result = speed_check(calibrated, quantized, quantize_pass, feeds, threads=1)

An int8 region is a connected set of int8 ops (joined by the int8 values between them). Regions
too small to time on their own (less than `min_share` of the model's estimated int8 work:
multiply-accumulates of compute ops, result elements of the others) are grouped, in graph order,
into units of at least that share; a larger region is a unit by itself. For each unit, largest
first, the emitted model is timed against the same model with that unit returned to fp32
(quantize again from the calibrated graph with the unit's ops, and every op already float, in
`skip`), in alternating rounds in one process (irc.bench.timing: every round runs both, the
order rotating; the speedup is the median of the per-round ratios; a round calls each model as
many times as make about `call_seconds`, so that a small model's timer noise does not decide).
A unit whose int8 form is not faster (speedup <= 1 + `margin`) is returned to fp32 and the next
unit is timed against that model. Last, what remains int8 is timed against the whole model in
fp32; unless it is faster, every region returns to fp32 (decisions that each looked right can
still add up to a slower model). Returning ops to fp32 after an accuracy budget was met keeps
the budget met (those ops compute as in the fp32 model). Times are onnxruntime's at default
optimization (level ALL) with `threads` intra-op threads on the given feeds.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import onnx

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.registry import ops_with_role
from irc.ir.types import known_product
from irc.passes.budget.sites import is_int8, macs

COMPUTE = ops_with_role("compute")
QUANTIZABLE = COMPUTE + ops_with_role("requantize")


def int8_regions(graph: Graph) -> list[list[Op]]:
    """Connected components of int8 ops, largest first (ties: graph order)."""
    ops = [op for op in graph.ops if is_int8(op)]
    parent = {id(op): id(op) for op in ops}

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for op in ops:
        for v in op.operands:
            p = v.producer
            if p is not None and id(p) in parent and v.type.is_quantized:
                parent[find(id(op))] = find(id(p))
    groups: dict[int, list[Op]] = {}
    for op in ops:
        groups.setdefault(find(id(op)), []).append(op)
    order = {id(op): i for i, op in enumerate(graph.ops)}
    return sorted(groups.values(), key=lambda g: (-len(g), order[id(g[0])]))


def float_labels(graph: Graph) -> list[str]:
    """Quantizable ops the quantized graph keeps in float (by label)."""
    return [op.label for op in graph.ops if op.name in QUANTIZABLE and not is_int8(op) and op.label]


def region_cost(region: list[Op]) -> int:
    """Estimated int8 work of a region: multiply-accumulates of its compute ops, result elements
    of the others (per sample, symbolic dims counting as 1)."""
    return sum(macs(op) if op.name in COMPUTE else known_product(op.results[0].type.dims) for op in region)


def timing_units(regions: list[list[Op]], graph: Graph, min_share: float) -> list[list[list[Op]]]:
    """The regions grouped into units that are timed (and kept or returned) as one, largest first.

    A region with at least `min_share` of the total cost is a unit by itself; the smaller ones
    are joined in graph order until a unit reaches that share (a last short group joins the
    group before it)."""
    costs = {id(r[0]): region_cost(r) for r in regions}
    floor = min_share * (sum(costs.values()) or 1)
    order = {id(op): i for i, op in enumerate(graph.ops)}

    def cost(unit: list[list[Op]]) -> int:
        return sum(costs[id(r[0])] for r in unit)

    units = [[r] for r in regions if costs[id(r[0])] >= floor]
    groups: list[list[list[Op]]] = []
    for r in sorted((r for r in regions if costs[id(r[0])] < floor), key=lambda r: order[id(r[0])]):
        if groups and cost(groups[-1]) < floor:
            groups[-1].append(r)
        else:
            groups.append([r])
    if len(groups) > 1 and cost(groups[-1]) < floor:
        groups[-2].extend(groups.pop())
    return sorted(units + groups, key=lambda u: (-cost(u), order[id(u[0][0])]))


@dataclass
class RegionTiming:
    ops: list[str]
    kinds: dict[str, int]
    speedup: float
    """int8 unit against the same unit in fp32 (> 1: int8 faster)."""
    kept_fp32: bool
    regions: int = 1
    """How many int8 regions the unit joins (small regions are timed together)."""


@dataclass
class SpeedReport:
    regions: list[RegionTiming] = field(default_factory=list)
    threads: int = 1
    whole_model_speedup: float | None = None
    """The int8 ops the units left, against the whole model in fp32."""
    whole_model_fp32: bool = False
    """The remaining int8 ops were not faster together: every region went back to fp32."""

    @property
    def kept_fp32(self) -> list[RegionTiming]:
        return [r for r in self.regions if r.kept_fp32]

    def summary(self) -> str:
        if not self.regions:
            return "speed: no int8 region to time"
        n = sum(r.regions for r in self.regions)
        grouped = "" if n == len(self.regions) else f" in {len(self.regions)} unit(s)"
        whole = "" if self.whole_model_speedup is None else f"; final model {self.whole_model_speedup:.2f}x fp32"
        head = (f"speed: {n} int8 region(s){grouped} timed against fp32 in onnxruntime "
                f"({self.threads} thread(s), alternating rounds){whole}")
        if self.whole_model_fp32:
            return head + "; int8 does not make the model faster: it stays fp32"
        kept = self.kept_fp32
        if not kept:
            return head + "; every region is faster in int8"
        if len(kept) == len(self.regions):
            return head + "; no region gains from int8: the model stays fp32 there (" + ", ".join(
                f"{len(r.ops)} ops at {r.speedup:.2f}x" for r in kept) + ")"
        return head + "; kept fp32 for speed: " + "; ".join(
            f"{len(r.ops)} ops ({', '.join(f'{n} {k}' for k, n in r.kinds.items())}; int8 {r.speedup:.2f}x)"
            for r in kept)

    def to_json(self) -> dict[str, Any]:
        return {"threads": self.threads, "whole_model_speedup": self.whole_model_speedup,
                "whole_model_fp32": self.whole_model_fp32,
                "regions": [dataclasses.asdict(r) for r in self.regions]}


def _speedup(int8: onnx.ModelProto, fp32: onnx.ModelProto, feeds: Mapping[str, np.ndarray], threads: int,
             budget_seconds: float, call_seconds: float = 0.004) -> float:
    from irc.bench.runtimes import ort_session
    from irc.bench.timing import alternate, summarize

    runs = {}
    for name, model in (("fp32", fp32), ("int8", int8)):
        sess = ort_session(model, threads)
        wanted = {i.name for i in sess.get_inputs()}
        f = {k: v for k, v in feeds.items() if k in wanted}
        runs[name] = functools.partial(sess.run, None, f)
    # one call of a round repeats a fast model until it takes about call_seconds
    probe = alternate(runs, max_rounds=3, min_rounds=3, budget_seconds=0.0, warmup=1)
    fastest = min(min(ts) for ts in probe.values())
    reps = max(1, min(1000, math.ceil(call_seconds / max(fastest, 1e-7))))

    def repeated(run):
        def call():
            for _ in range(reps):
                run()
        return call

    times = alternate({k: repeated(r) for k, r in runs.items()}, max_rounds=200, min_rounds=15,
                      budget_seconds=budget_seconds)
    return float(summarize(times, reference="fp32")["variants"]["int8"]["speedup"])


def speed_check(calibrated: Graph, quantized: Graph, quantize_pass: Any, feeds: Mapping[str, np.ndarray], *,
                threads: int = 1, budget_seconds: float = 2.0, margin: float = 0.0, min_share: float = 0.1,
                fp32_model: onnx.ModelProto | None = None, timer=None) -> tuple[Graph, SpeedReport]:
    """(the graph to emit, what was timed); `calibrated` is the graph as quantize received it.

    timer(int8_model, fp32_model, feeds, threads, budget_seconds) -> speedup replaces the
    onnxruntime timing (tests)."""
    timer = timer or _speedup
    from irc.backends.onnx import export_onnx
    from irc.backends.onnx.qdq import export_qdq
    from irc.passes import PassContext
    from irc.passes.clone import clone_graph

    def emit(g: Graph) -> onnx.ModelProto:
        return export_qdq(g, warn=lambda m: None)

    def requantize(skip: list[str]) -> Graph:
        g, _ = clone_graph(calibrated)
        p = dataclasses.replace(quantize_pass, skip=tuple(sorted(set(skip))))
        p.run(g, PassContext())
        return g

    known = {op.label for op in calibrated.ops}

    def label(op: Op) -> str | None:
        # quantize renames an int8 graph output's producer to <name>_q (its dequantize takes the name)
        name = op.label
        if name not in known and name and name.endswith("_q") and name[:-2] in known:
            name = name[:-2]
        return name if name in known else None

    report = SpeedReport(threads=threads)
    current, current_model = quantized, emit(quantized)
    skip = list(quantize_pass.skip) + [n for n in float_labels(quantized) if n in known]
    for unit in timing_units(int8_regions(quantized), quantized, min_share):
        ops = [op for region in unit for op in region]
        labels = [n for n in map(label, ops) if n]
        if not labels:
            continue
        variant = requantize(skip + labels)
        variant_model = emit(variant)
        s = timer(current_model, variant_model, feeds, threads, budget_seconds)
        kinds: dict[str, int] = {}
        for op in ops:
            kinds[op.name] = kinds.get(op.name, 0) + 1
        slower = s <= 1.0 + margin
        report.regions.append(RegionTiming(labels, dict(sorted(kinds.items())), round(s, 3), slower, len(unit)))
        if slower:
            skip += labels
            current, current_model = variant, variant_model
    if report.regions and not all(r.kept_fp32 for r in report.regions):
        fp32 = fp32_model if fp32_model is not None else export_onnx(calibrated)
        whole = timer(current_model, fp32, feeds, threads, budget_seconds)
        report.whole_model_speedup = round(whole, 3)
        if whole <= 1.0 + margin:
            report.whole_model_fp32 = True
            for r in report.regions:
                if not r.kept_fp32:
                    skip += r.ops
            current = requantize(skip)
    return current, report
