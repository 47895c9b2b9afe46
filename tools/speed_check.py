"""Speed-aware mixed precision: keep an int8 region only where onnxruntime runs it faster.

    result = speed_check(calibrated, quantized, quantize_pass, feeds, threads=1)

An int8 region is a connected set of int8 ops (joined by the int8 values between them). For
each region, largest first, the emitted model is timed against the same model with that
region returned to fp32 (quantize again from the calibrated graph with the region's ops, and
every op already float, in `skip`), in alternating rounds in one process (irc.bench.timing:
every round runs both, the order rotating; the speedup is the median of the per-round ratios).
A region whose int8 form is not faster (speedup <= 1 + `margin`) is returned to fp32 and the
next region is timed against that model. Returning ops to fp32 after an accuracy budget was met
keeps the budget met (those ops compute as in the fp32 model). Times are onnxruntime's at
default optimization (level ALL) with `threads` intra-op threads on the given feeds.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import onnx

from irc.ir.graph import Graph
from irc.ir.op import Op
from irc.ir.registry import ops_with_role
from irc.passes.sites import is_int8

QUANTIZABLE = ops_with_role("compute") + ops_with_role("requantize")


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


@dataclass
class RegionTiming:
    ops: list[str]
    kinds: dict[str, int]
    speedup: float
    """int8 region against the same region in fp32 (> 1: int8 faster)."""
    kept_fp32: bool


@dataclass
class SpeedReport:
    regions: list[RegionTiming] = field(default_factory=list)
    threads: int = 1
    whole_model_speedup: float | None = None
    """The final model against the fp32 model."""

    @property
    def kept_fp32(self) -> list[RegionTiming]:
        return [r for r in self.regions if r.kept_fp32]

    def summary(self) -> str:
        if not self.regions:
            return "speed: no int8 region to time"
        whole = "" if self.whole_model_speedup is None else f"; final model {self.whole_model_speedup:.2f}x fp32"
        head = (f"speed: {len(self.regions)} int8 region(s) timed against fp32 in onnxruntime "
                f"({self.threads} thread(s), alternating rounds){whole}")
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
                "regions": [dataclasses.asdict(r) for r in self.regions]}


def _speedup(int8: onnx.ModelProto, fp32: onnx.ModelProto, feeds: Mapping[str, np.ndarray], threads: int,
             budget_seconds: float) -> float:
    from irc.bench.runtimes import ort_session
    from irc.bench.timing import alternate, summarize

    runs = {}
    for name, model in (("fp32", fp32), ("int8", int8)):
        sess = ort_session(model, threads)
        wanted = {i.name for i in sess.get_inputs()}
        f = {k: v for k, v in feeds.items() if k in wanted}
        runs[name] = functools.partial(sess.run, None, f)
    times = alternate(runs, max_rounds=200, min_rounds=15, budget_seconds=budget_seconds)
    return float(summarize(times, reference="fp32")["variants"]["int8"]["speedup"])


def speed_check(calibrated: Graph, quantized: Graph, quantize_pass: Any, feeds: Mapping[str, np.ndarray], *,
                threads: int = 1, budget_seconds: float = 2.0, margin: float = 0.0,
                fp32_model: onnx.ModelProto | None = None, timer=None) -> tuple[Graph, SpeedReport]:
    """(the graph to emit, what was timed); `calibrated` is the graph as quantize received it.

    timer(int8_model, fp32_model, feeds, threads, budget_seconds) -> speedup replaces the
    onnxruntime timing (tests)."""
    timer = timer or _speedup
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
    for region in int8_regions(quantized):
        labels = [n for n in map(label, region) if n]
        if not labels:
            continue
        variant = requantize(skip + labels)
        variant_model = emit(variant)
        s = timer(current_model, variant_model, feeds, threads, budget_seconds)
        kinds: dict[str, int] = {}
        for op in region:
            kinds[op.name] = kinds.get(op.name, 0) + 1
        slower = s <= 1.0 + margin
        report.regions.append(RegionTiming(labels, dict(sorted(kinds.items())), round(s, 3), slower))
        if slower:
            skip += labels
            current, current_model = variant, variant_model
    if fp32_model is not None and report.regions:
        report.whole_model_speedup = round(timer(current_model, fp32_model, feeds, threads, budget_seconds), 3)
    return current, report
