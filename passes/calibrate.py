"""calibrate: observe the calibration data flowing through the graph and record ranges in the IR.

Every float graph input and every float result of a non-constant op gets an observer
(passes/observers.py). The data from `ctx.calib` (passes/calibration_stream.py) runs through a backend
batch by batch (ir/evaluator.py: onnxruntime by default, or the numpy interpreter), the
observers keep streaming summaries, and at the end each value's range, chosen by `method`
(passes/range_methods.py), is written as its `q.range` attribute (irc.ir.ranges). Memory
does not grow with the number of samples: one batch of activations plus a fixed-size summary
per tensor.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import ClassVar, Literal

from irc.ir.ranges import clear_ranges, mark_nonfinite, set_range
from irc.ir.diagnostics import IRError
from irc.ir.evaluator import Evaluator, get_evaluator, split_values
from irc.ir.graph import Graph
from irc.ir.value import Value

from .base import Pass, PassContext, PassError, register_pass
from .calibration_stream import CalibrationStream
from .observers import HistogramObserver, MinMaxObserver
from .range_methods import ENTROPY_KEEP, choose_range


def observed_values(graph: Graph) -> list[Value]:
    """The values calibration watches: float graph inputs and float results of non-const ops."""
    out = [v for v in graph.inputs if v.type.is_float]
    for op in graph.ops:
        if op.name == "const":
            continue
        out.extend(r for r in op.results if r.type.is_float and r.type.numel != 0)
    return out


SAMPLE_BATCH = 8
"""Samples of the first calibration batch kept in PassContext.sample_batch."""


def sample_of(feeds: dict, fixed: bool) -> dict:
    """The first SAMPLE_BATCH samples of a batch (all of it when the graph fixes its batch size)."""
    return {k: (v if fixed else v[:SAMPLE_BATCH]).copy() for k, v in feeds.items()}


def _progress(ctx: PassContext, total: int | None):
    if ctx.quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="calibrate", unit="sample", file=sys.stderr, leave=False)


@register_pass
@dataclass(frozen=True)
class Calibrate(Pass):
    """Run the calibration data through the graph and record each tensor's range (q.range)."""

    name: ClassVar[str] = "calibrate"
    method: Literal["minmax", "percentile", "entropy", "mse", "auto"] = "minmax"
    """How a range is chosen from the observations (see specs/pipeline.md)."""
    percentile: float = 99.99
    """method=percentile (and auto): the share of values (in %) kept inside the range, at each end."""
    entropy_keep: float = ENTROPY_KEEP
    """method=entropy: the share of nonzero values (in %) the threshold keeps at least."""
    bins: int = 4096
    """Histogram bins per tensor (percentile, entropy, mse)."""
    activations: Literal["u8", "i8", "i8-sym"] = "u8"
    """The activation type the ranges are for (the mse error model)."""
    batch_size: int = 32
    """Samples per batch run (a graph whose inputs fix the batch size uses that instead)."""
    samples: int = 0
    """Use at most this many samples (0: all)."""
    backend: Literal["onnxruntime", "interpreter"] = "onnxruntime"
    """What computes the activations."""
    threads: int = 0
    """onnxruntime intra-op threads (0: onnxruntime's default)."""
    seed: int = 0
    """Seed for choosing the `samples` subset when the data source can pick one at random."""

    def _check_options(self) -> None:
        if self.method == "percentile" and not 50.0 < self.percentile <= 100.0:
            raise PassError(f"pass 'calibrate': option 'percentile' must be in (50, 100], got {self.percentile}")
        if not 0.0 <= self.entropy_keep <= 100.0:
            raise PassError(f"pass 'calibrate': option 'entropy-keep' must be in [0, 100], got {self.entropy_keep}")
        if self.bins < 16:
            raise PassError(f"pass 'calibrate': option 'bins' must be at least 16, got {self.bins}")
        if self.batch_size < 1:
            raise PassError(f"pass 'calibrate': option 'batch-size' must be at least 1, got {self.batch_size}")
        if self.samples < 0:
            raise PassError(f"pass 'calibrate': option 'samples' must be 0 (all) or more, got {self.samples}")
        if self.threads < 0:
            raise PassError(f"pass 'calibrate': option 'threads' must be 0 or more, got {self.threads}")

    def _evaluator(self, graph: Graph, ctx: PassContext) -> Evaluator:
        evaluator = get_evaluator(self.backend, threads=self.threads)
        reason = evaluator.unsupported(graph)
        if reason is not None:
            # run what onnxruntime cannot on the interpreter rather than refuse to calibrate
            evaluator.close()
            ctx.record(self.name, "backend note", f"{self.backend} not used: {reason}")
            return get_evaluator("interpreter")
        return evaluator

    def run(self, graph: Graph, ctx: PassContext) -> bool:
        self._check_options()
        start = time.perf_counter()
        if not graph.inputs:
            raise PassError("pass 'calibrate': the graph has no inputs to feed calibration data to")
        values = observed_values(graph)
        stream = CalibrationStream(ctx.calib, graph, batch_size=self.batch_size, limit=self.samples,
                                   seed=self.seed)
        hist = self.method != "minmax"
        observers: dict[Value, MinMaxObserver] = {
            v: HistogramObserver(self.bins) if hist else MinMaxObserver() for v in values}
        evaluator = self._evaluator(graph, ctx)
        bar = _progress(ctx, stream.total)
        batches = 0
        try:
            for feeds in stream:
                if ctx.sample_batch is None:
                    ctx.sample_batch = sample_of(feeds, stream.fixed)
                if hist:
                    evaluator.stream(graph, feeds, values, lambda v, a: observers[v].update(a))
                else:
                    for v, (mn, mx, bad) in evaluator.minmax(graph, feeds, values).items():
                        observers[v].update_minmax(mn, mx, 0, bad)
                batches += 1
                if bar is not None:
                    bar.update(stream.samples - bar.n)
        except PassError:
            raise
        except IRError as e:
            raise PassError(f"pass 'calibrate': {e}") from e
        finally:
            if bar is not None:
                bar.close()
            evaluator.close()

        clear_ranges(graph)
        unranged = []
        with_nonfinite = []
        chosen: dict[str, int] = {}
        for v, obs in observers.items():
            found = choose_range(obs, self.method, percentile=self.percentile, activations=self.activations,
                                 entropy_keep=self.entropy_keep)
            if obs.nonfinite:
                with_nonfinite.append(v.name or "?")
                mark_nonfinite(graph, v)
            if found is None:
                unranged.append(v.name or "?")
                continue
            rng, how = found
            chosen[how] = chosen.get(how, 0) + 1
            set_range(graph, v, *rng)
        inputs, _ = split_values(graph, values)
        ctx.record(self.name, "method", self.method)
        if self.method == "auto":
            ctx.record(self.name, "tensors per method (auto)", dict(sorted(chosen.items())))
        ctx.record(self.name, "backend", getattr(evaluator, "name", self.backend))
        ctx.record(self.name, "samples", stream.samples)
        ctx.record(self.name, "batches", batches)
        ctx.record(self.name, "tensors observed", len(values))
        ctx.record(self.name, "graph inputs observed", len(inputs))
        if stream.padded:
            ctx.record(self.name, "padding samples", stream.padded)
        if with_nonfinite:
            ctx.record(self.name, "tensors with NaN/inf values (kept in float)", with_nonfinite)
        if unranged:
            ctx.record(self.name, "tensors without a finite value (no range)", unranged)
        ctx.record(self.name, "seconds", round(time.perf_counter() - start, 3))
        return bool(values)
