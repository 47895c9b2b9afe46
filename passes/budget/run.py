"""The accuracy budget: quantize, and return the fewest ops to fp32 that keep the metric in budget.

The pass manager hands the `quantize` pass to `run_with_budget` when `PassContext.budget` is an
AccuracyBudget. The graph at that point is the calibrated float graph; every candidate model is
a copy of it with some ops marked fp32 (the fallback pass's mark), then quantized, then run
through the passes that follow quantize in the pipeline — so a candidate is exactly the model
the pipeline would produce with those ops in fp32. Quantizing takes milliseconds; a *full
evaluation* (the metric on the whole validation set, the model emitted as QDQ ONNX and run by
onnxruntime) is what costs, and this module counts them:

    1. fp32 metric of the float graph                                   1 evaluation
    2. metric of the fully quantized graph; within budget -> done       1 evaluation
    3. sensitivity of every error site (passes/budget/sensitivity.py) on a few validation samples,
       no full evaluation
    4. galloping/bisection over the ranking, then refinement          ~2 log2(ops needed) + a few
       (passes/budget/search.py)
    5. the chosen ops are marked fp32 (q.fallback="budget") on the real graph and quantize runs

The driver supplies the data and the metric through the `Validation` interface, so passes stay
free of data formats; the result (numbers, per-op table, trials) lands in `budget.result` for
the report. A budget that only an all-fp32 model meets is *not met*: the best model found (with
some int8 ops) is produced, and `result.met` is False.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import dataclass
from typing import Callable, Literal, Mapping, Protocol, Sequence

import numpy as np

from irc.ir.evaluator import Evaluator, get_evaluator
from irc.ir.graph import Graph

from ..base import Pass, PassContext, PassError
from ..calibration_stream import graph_batch_size
from ..clone import clone_graph
from ..fallback import mark_fallback
from ..manager import PassManager
from .result import BudgetResult, build_result, drop_of
from .search import SearchResult, Trial, search
from .sensitivity import (ENGINES, ActivationCache, cumulative_sqnr, estimate_seconds, harm_interpreter, harm_local,
                          harm_onnxruntime)
from .sites import QuantizedCopy, Site, candidates, find_sites, op_infos, quantized_copy

RunFn = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]
"""Model outputs by name for one batch of inputs by name."""

OBJECTIVES = ("fewest-ops", "speed")


class Validation(Protocol):
    """What the driver provides: a validation set and a metric.

    measure(run, reference) streams the whole set through `run` and returns the metric; metrics
    that compare against the fp32 model (agreement, ...) call `reference` on the same batches.
    inputs(limit, seed) gives a seeded subset of the set's inputs as batches (for ranking).
    """

    metric_name: str
    higher_is_better: bool
    description: str

    def measure(self, run: RunFn, reference: RunFn | None) -> float: ...

    def inputs(self, limit: int, seed: int) -> list[dict[str, np.ndarray]]: ...


def parse_max_drop(text: str | float) -> tuple[float, bool]:
    """'0.01' -> (0.01, absolute); '1%' -> (0.01, relative). Negative or non-numbers are errors."""
    raw = str(text).strip()
    relative = raw.endswith("%")
    body = raw[:-1].strip() if relative else raw
    try:
        value = float(body)
    except ValueError:
        raise PassError(f"--max-drop takes a number (0.01: absolute, in metric units) or a percentage "
                        f"(1%: relative to the fp32 metric), not {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise PassError(f"--max-drop must be a finite number >= 0, got {raw!r}")
    return (value / 100.0 if relative else value), relative


@dataclass
class AccuracyBudget:
    """Settings of the budget search; PassContext.budget holds one."""

    validation: Validation
    max_drop: float
    """The largest acceptable drop: in metric units, or a fraction of the fp32 metric (relative)."""
    relative: bool = False
    objective: Literal["fewest-ops", "speed"] = "fewest-ops"
    """fewest-ops: each op returned to fp32 costs 1; speed: costs its share of int8-kernel work."""
    engine: str = "auto"
    """How site harm is measured: interpreter (cached activations), onnxruntime, local, or auto
    (interpreter or onnxruntime, whichever is expected to be faster)."""
    ranking_samples: int = 64
    """Validation samples used to rank the sites."""
    backend: str = "onnxruntime-qdq"
    """Evaluator running the full evaluations (the interpreter if onnxruntime cannot run the graph)."""
    threads: int = 0
    seed: int = 0
    cache_bytes: int = 1 << 30
    """Memory for the fp32 activations the interpreter engine caches (fewer samples if needed)."""
    result: BudgetResult | None = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise PassError(f"unknown budget objective {self.objective!r} (known: {', '.join(OBJECTIVES)})")
        if self.engine not in ENGINES:
            raise PassError(f"unknown sensitivity engine {self.engine!r} (known: {', '.join(ENGINES)})")
        if self.ranking_samples < 1:
            raise PassError(f"ranking samples must be at least 1, got {self.ranking_samples}")
        if not math.isfinite(self.max_drop) or self.max_drop < 0:
            raise PassError(f"the accuracy budget must be a finite number >= 0, got {self.max_drop}")

    def describe(self) -> str:
        if self.relative:
            return f"{100 * self.max_drop:g}% of the fp32 {self.validation.metric_name}"
        return f"{self.max_drop:g} {self.validation.metric_name}"


class _Progress:
    """A progress bar of the search on a terminal; silent otherwise."""

    def __init__(self, ctx: PassContext) -> None:
        self.bar = None
        if not ctx.quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(desc="accuracy budget", unit="eval", file=sys.stderr, leave=False)

    def stage(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def step(self, text: str) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Runner:
    """Full evaluations: a graph -> the metric on the validation set, counted and timed."""

    def __init__(self, budget: AccuracyBudget, float_graph: Graph) -> None:
        self.budget = budget
        self.backend = budget.backend
        probe = get_evaluator(self.backend, threads=budget.threads)
        reason = probe.unsupported(float_graph)
        probe.close()
        self.note = None
        if reason is not None:
            self.note = f"full evaluations ran on the interpreter ({self.backend}: {reason})"
            self.backend = "interpreter"
        self.count = 0
        self.seconds = 0.0
        self._reference: dict[bytes, dict[str, np.ndarray]] = {}
        self._float_graph = float_graph
        self._float_eval: Evaluator | None = None

    def _run_fn(self, graph: Graph, ev: Evaluator) -> RunFn:
        names = [v.io_name for v in graph.outputs]

        def run(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            got = ev.run(graph, feeds, graph.outputs)
            return {n: got[v] for n, v in zip(names, graph.outputs)}

        return run

    def reference(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """fp32 outputs, computed once per distinct batch."""
        h = hashlib.blake2b(digest_size=16)
        for k in sorted(feeds):
            a = np.ascontiguousarray(feeds[k])
            h.update(k.encode())
            h.update(str(a.shape).encode())
            h.update(a.tobytes())
        key = h.digest()
        if key not in self._reference:
            if self._float_eval is None:
                self._float_eval = get_evaluator(self.backend, threads=self.budget.threads)
            self._reference[key] = self._run_fn(self._float_graph, self._float_eval)(feeds)
        return self._reference[key]

    def measure(self, graph: Graph) -> float:
        t0 = time.perf_counter()
        ev = get_evaluator(self.backend, threads=self.budget.threads)
        try:
            value = float(self.budget.validation.measure(self._run_fn(graph, ev), self.reference))
        finally:
            ev.close()
        if not math.isfinite(value):
            what = "the fp32 model" if self.count == 0 else "a candidate model"
            raise PassError(f"the metric {self.budget.validation.metric_name} is {value} for {what} on the "
                            "validation set, so it cannot measure a drop (use e.g. cosine or agreement)")
        self.count += 1
        self.seconds += time.perf_counter() - t0
        return value

    def close(self) -> None:
        if self._float_eval is not None:
            self._float_eval.close()


def _candidate(float_graph: Graph, ops: frozenset[str], make: Callable[[Graph], None]) -> QuantizedCopy:
    def build(g: Graph) -> None:
        if ops:
            mark_fallback(g, [op for op in g.ops if op.label in ops and op.name != "const"], "budget")
        make(g)

    return quantized_copy(float_graph, build)


def _harms(budget: AccuracyBudget, graph: Graph, sites: Sequence[Site], batches, progress: _Progress,
           notes: list[str]) -> tuple[int, str]:
    """Measure every site's harm; returns the number of samples it was measured on and the
    engine used."""
    engine = budget.engine
    if engine == "auto":
        est = estimate_seconds(graph, sites, batches, get_evaluator("interpreter"),
                               lambda: get_evaluator("onnxruntime-qdq", level="disabled", threads=budget.threads))
        engine = min(("interpreter", "onnxruntime"), key=lambda e: est[e])
        notes.append(f"sensitivity engine {engine}, chosen by estimate (interpreter {est['interpreter']:.1f} s, "
                     f"onnxruntime {est['onnxruntime']:.1f} s)")
    if engine == "onnxruntime":
        ev = get_evaluator("onnxruntime-qdq", level="disabled", threads=budget.threads)
        reference = []
        for feeds in batches:
            got = ev.run(graph, feeds, graph.outputs)
            reference.append([got[v] for v in graph.outputs])
        ev.close()
        for i, s in enumerate(sites):
            s.harm = harm_onnxruntime(graph, s, batches, reference,
                                      lambda: get_evaluator("onnxruntime-qdq", level="disabled",
                                                            threads=budget.threads))
            progress.stage(f"ranking {i + 1}/{len(sites)} sites")
        return sum(len(next(iter(f.values()))) for f in batches), engine
    cache = ActivationCache(graph, batches, get_evaluator("interpreter"), budget.cache_bytes)
    harm = harm_interpreter if engine == "interpreter" else harm_local
    for i, s in enumerate(sites):
        s.harm = harm(cache, s)
        progress.stage(f"ranking {i + 1}/{len(sites)} sites")
    return cache.samples, engine


def ranking_batches(v: Validation, graph: Graph, n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """n validation samples as batches the graph can run (its own batch size when it fixes one;
    the last batch is then padded by repeating its last sample)."""
    batches = v.inputs(n, seed)
    fixed = graph_batch_size(graph)
    if fixed is None:
        return batches
    out = []
    for feeds in batches:
        total = len(next(iter(feeds.values())))
        for start in range(0, total, fixed):
            chunk = {k: a[start:start + fixed] for k, a in feeds.items()}
            short = fixed - len(next(iter(chunk.values())))
            if short:
                chunk = {k: np.concatenate([a, np.repeat(a[-1:], short, 0)]) for k, a in chunk.items()}
            out.append(chunk)
    return out


def run_with_budget(quantize: Pass, tail: Sequence[Pass], graph: Graph, ctx: PassContext) -> bool:
    """Run `quantize` on `graph` under the accuracy budget `ctx.budget` (see the module docstring).

    `tail` are the passes the pipeline runs after quantize; candidates include them."""
    budget: AccuracyBudget = ctx.budget
    v = budget.validation
    seconds: dict[str, float] = {}
    scratch = PassContext(calib=ctx.calib, seed=ctx.seed, quiet=True)
    # every candidate goes through quantize and the passes after it once, in a nested manager
    # that verifies after each (the real graph gets the tail from the outer manager, once)
    candidate_passes = PassManager([quantize, *tail])

    def make(g: Graph) -> None:
        candidate_passes.run(g, scratch)

    t_all = time.perf_counter()
    _name_ops(graph)
    float_graph, _ = clone_graph(graph)
    runner = _Runner(budget, float_graph)
    progress = _Progress(ctx)
    notes = [runner.note] if runner.note else []
    try:
        fp32 = runner.measure(float_graph)
        progress.step(f"fp32 {v.metric_name} {fp32:.4f}")
        allowed = budget.max_drop * abs(fp32) if budget.relative else budget.max_drop

        def meets(metric: float) -> bool:
            return drop_of(fp32, metric, v.higher_is_better) <= allowed + 1e-12

        full = _candidate(float_graph, frozenset(), make)
        int8 = runner.measure(full.graph)
        progress.step(f"int8 {v.metric_name} {int8:.4f}")
        seconds["fp32 and int8 evaluations"] = runner.seconds

        cand = candidates(full)
        all_ops = frozenset(full.float_op[id(op)].label for op in cand)  # candidates are ops of the copy
        infos = op_infos(float_graph, full)
        sites: list[Site] = []
        kernels_int8 = _kernels(runner, full)
        search_result: SearchResult | None = None
        engine_used = "-"
        chosen: frozenset[str]
        if meets(int8) or not cand:
            chosen, final_metric, met = frozenset(), int8, meets(int8)
            if not cand and not met:
                notes.append("no op can go back to fp32 (nothing was quantized)")
        else:
            t = time.perf_counter()
            batches = ranking_batches(v, float_graph, budget.ranking_samples, budget.seed)
            if not batches:
                raise PassError("the validation set gave no samples to rank the quantized ops on")
            sites = find_sites(full)
            progress.stage(f"ranking {len(sites)} sites")
            ranked_on, engine_used = _harms(budget, float_graph, sites, batches, progress, notes)
            if ranked_on < budget.ranking_samples:
                notes.append(f"sites ranked on {ranked_on} samples (activation cache limit "
                             f"{budget.cache_bytes >> 20} MiB, or a smaller validation set)")
            seconds["sensitivity ranking"] = time.perf_counter() - t
            cost = _cost_fn(budget.objective, infos, kernels_int8)

            def evaluate(ops: frozenset[str]) -> float:
                return runner.measure(_candidate(float_graph, ops, make).graph)

            def on_trial(tr: Trial) -> None:
                progress.step(f"{len(tr.ops)} fp32 ops: {v.metric_name} {tr.metric:.4f}"
                              f" ({'meets' if tr.met else 'misses'} budget)")

            t = time.perf_counter()
            search_result = search(sites, all_ops, cost, evaluate, meets, int8, v.higher_is_better, on_trial)
            seconds["search"] = time.perf_counter() - t
            chosen, final_metric, met = search_result.ops, search_result.metric, search_result.met

        # the real graph: mark the chosen ops, quantize (the manager runs the tail passes)
        mark_fallback(graph, [op for op in graph.ops if op.label in chosen and op.name != "const"], "budget")
        changed = bool(quantize.run(graph, ctx))

        t = time.perf_counter()
        final = _candidate(float_graph, chosen, make) if chosen else full
        kernels_final = _kernels(runner, final) if chosen else kernels_int8
        sqnr_int8, sqnr_final = _report_sqnr(budget, float_graph, full, final, list(infos), v)
        seconds["report"] = time.perf_counter() - t
        seconds["total"] = time.perf_counter() - t_all
        seconds["full evaluations"] = runner.seconds
        budget.result = build_result(budget, fp32, int8, final_metric, allowed, met, chosen, infos, sites,
                                search_result, kernels_int8, kernels_final, sqnr_int8, sqnr_final,
                                runner.count, seconds, notes, len(all_ops), engine_used)
    finally:
        progress.close()
        runner.close()
    r = budget.result
    ctx.record("budget", "fp32 metric", r.fp32_metric)
    ctx.record("budget", "int8 metric", r.int8_metric)
    ctx.record("budget", "final metric", r.final_metric)
    ctx.record("budget", "met", r.met)
    ctx.record("budget", "fp32 ops", len(r.fp32_ops))
    ctx.record("budget", "full evaluations", r.evaluations)
    return changed


def _name_ops(graph: Graph) -> None:
    """Give every non-constant op a unique name (its first result's), so that the search and the
    fallback marks can name each op: unnamed results and repeated name hints get a suffix.
    Graph outputs keep their names."""
    outputs = {id(v) for v in graph.outputs}
    taken = {op.results[0].name for op in graph.ops if op.results and op.results[0].name}
    seen: set[str] = set()
    for i, op in enumerate(graph.ops):
        if op.name == "const" or not op.results:
            continue
        r = op.results[0]
        if r.name and r.name not in seen:
            seen.add(r.name)
            continue
        if id(r) in outputs and r.name:
            continue
        base = r.name or op.name
        k = i
        while f"{base}_{k}" in taken:
            k += 1
        r.name = f"{base}_{k}"
        taken.add(r.name)
        seen.add(r.name)


def _kernels(runner: _Runner, q: QuantizedCopy) -> dict[str, str]:
    """{float-graph op name: onnxruntime node type} for a quantized copy (empty if unknown)."""
    ev = get_evaluator(runner.backend, threads=runner.budget.threads)
    try:
        kernels = getattr(ev, "kernels", None)
        if kernels is None:
            return {}
        by_label = kernels(q.graph)
    finally:
        ev.close()
    out = {}
    for op in q.graph.ops:
        name = q.float_name(op)
        if name is not None and op.label in by_label:
            out[name] = by_label[op.label]
    return out


INT8_KERNEL_PREFIXES = ("QLinear", "QGemm", "MatMulInteger", "ConvInteger", "NhwcQLinear", "DynamicQuantize")


def is_int8_kernel(kind: str | None) -> bool:
    return kind is not None and kind.startswith(INT8_KERNEL_PREFIXES)


def _cost_fn(objective: str, infos, kernels: dict[str, str]) -> Callable[[str], float]:
    if objective == "fewest-ops":
        return lambda name: 1.0
    fast = {n: i.macs for n, i in infos.items() if is_int8_kernel(kernels.get(n)) or not kernels}
    total = float(sum(fast.values())) or 1.0
    return lambda name: fast.get(name, 0) / total


def _report_sqnr(budget: AccuracyBudget, float_graph: Graph, full: QuantizedCopy, final: QuantizedCopy,
                 names: list[str], v: Validation) -> tuple[dict[str, float], dict[str, float]]:
    """Cumulative SQNR of every candidate op's result, full int8 and final, on a few samples."""
    batches = ranking_batches(v, float_graph, min(budget.ranking_samples, 32), budget.seed)
    if not batches:
        return {}, {}
    interp = get_evaluator("interpreter")
    cache = ActivationCache(float_graph, batches, interp, budget.cache_bytes)
    a = cumulative_sqnr(cache, full, get_evaluator("interpreter"), names)
    b = a if final is full else cumulative_sqnr(cache, final, get_evaluator("interpreter"), names)
    return a, b
