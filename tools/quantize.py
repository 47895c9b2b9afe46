"""The one-call quantizer: ONNX model + calibration data -> int8 QDQ model.

    result = irc.quantize("model.onnx", "calib.npz")            # or arrays, or batches
    result.save("model.int8.onnx")
    print(result.summary())

Runs import, the default pipeline (fold, fuse, dce, smooth, calibrate, quantize) and the onnx-qdq
backend, timing each stage, then checks what it wrote: onnxruntime loads the int8 model with its
default session options and runs the first calibration batch, compared output by output with the
fp32 model (backends/onnx/ort_check.py). A model onnxruntime refuses, or that runs to NaN, raises
OutputRejected (an IRError holding the model).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import onnx

from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph
from irc.model_files import load_model, model_format
from irc.quantize_options import QuantizeOptions


@dataclass
class QuantizeResult:
    graph: Graph
    """The quantized IR."""
    model: onnx.ModelProto
    """The QDQ ONNX model."""
    stats: dict[str, dict[str, Any]]
    """What each pass recorded."""
    timings: list[tuple[str, float]]
    """(stage, seconds) in order."""
    source_bytes: int | None = None
    warnings: list[str] = field(default_factory=list)
    budget: Any = None
    """The accuracy-budget result (irc.passes.budget.result.BudgetResult) when a budget was given."""
    check: Any = None
    """How onnxruntime ran the written model (irc.backends.onnx.ort_check.EmittedCheck)."""
    speed: Any = None
    """What the speed check timed and kept fp32 (irc.speed_check.SpeedReport), when it ran."""
    calibrated: Graph | None = None
    """The graph as quantize received it (keep_calibrated=True): for irc.run_report."""
    sample_batch: Any = None
    """The first samples of the first calibration batch (what the output check ran)."""
    skipped: tuple[str, ...] = ()
    """The quantize pass's `skip` (known with keep_calibrated or speed_check)."""

    @property
    def model_bytes(self) -> int:
        return self.model.ByteSize()

    def op_counts(self) -> dict[str, tuple[int, int]]:
        """Per op kind: (int8 count, float count); casts and constants are left out."""
        counts: dict[str, list[int]] = {}
        for op in self.graph.ops:
            if op.name in ("const", "quantize", "dequantize"):
                continue
            c = counts.setdefault(op.name, [0, 0])
            # int8 when it computes on integers: a quantized result, or quantized operands (a
            # matmul with a float result)
            c[0 if any(v.type.is_quantized for v in [*op.operands, *op.results]) else 1] += 1
        return {k: (v[0], v[1]) for k, v in sorted(counts.items())}

    def save(self, path: str | os.PathLike) -> None:
        from irc.backends.onnx import save_onnx

        save_onnx(self.model, path)

    def to_json(self) -> dict[str, Any]:
        ops = self.op_counts()
        return {
            "ops": {k: {"int8": a, "float": b} for k, (a, b) in ops.items()},
            "int8_ops": sum(a for a, _ in ops.values()),
            "float_ops": sum(b for _, b in ops.values()),
            "source_bytes": self.source_bytes,
            "model_bytes": self.model_bytes,
            "timings": {k: round(v, 4) for k, v in self.timings},
            "stats": _jsonable(self.stats),
            "warnings": self.warnings,
            **({"check": self.check.to_json()} if self.check is not None else {}),
            **({"speed": self.speed.to_json()} if self.speed is not None else {}),
            **({"budget": _budget_json(self.budget)} if self.budget is not None else {}),
        }

    def summary(self) -> str:
        ops = self.op_counts()
        width = max([len(k) for k in ops] + [8])
        lines = [f"{'op':<{width}}  {'int8':>5}  {'float':>5}"]
        for k, (a, b) in ops.items():
            lines.append(f"{k:<{width}}  {a:>5}  {b:>5}")
        lines.append(f"{'total':<{width}}  {sum(a for a, _ in ops.values()):>5}  {sum(b for _, b in ops.values()):>5}")
        size = f"{_mb(self.model_bytes)}"
        if self.source_bytes:
            ratio = self.source_bytes / max(self.model_bytes, 1)
            change = f"{ratio:.2f}x smaller" if ratio >= 1 else f"{1 / ratio:.2f}x larger"
            size = f"{_mb(self.source_bytes)} -> {size} ({change})"
        lines.append(f"model size: {size}")
        total = sum(t for _, t in self.timings) or 1e-9
        lines.append("time: " + ", ".join(f"{k} {t:.2f} s ({100 * t / total:.0f}%)" for k, t in self.timings)
                     + f"; total {total:.2f} s")
        if self.speed is not None:
            lines.append(self.speed.summary())
        if self.check is not None:
            lines.append(self.check.summary())
        return "\n".join(lines)


def _budget_json(result: Any) -> dict[str, Any]:
    from irc.budget_report import report_json

    return report_json(result)


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    return x


class _ArraySource:
    """Calibration batches from in-memory arrays {input name: array with a leading sample axis}."""

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        sizes = {len(v) for v in self.arrays.values()}
        if len(sizes) != 1:
            raise IRError(f"calibration arrays differ in sample count: "
                          f"{', '.join(f'{k}: {len(v)}' for k, v in self.arrays.items())}")
        self.n = sizes.pop()

    def __len__(self) -> int:
        return self.n

    def batches(self, batch_size: int = 32, limit: int | None = None, seed: int = 0):
        n = min(self.n, limit) if limit else self.n
        idx = np.arange(self.n)
        if n < self.n:
            idx = np.sort(np.random.default_rng(seed).choice(self.n, n, replace=False))
        for start in range(0, n, batch_size):
            sel = idx[start:start + batch_size]
            yield {k: v[sel] for k, v in self.arrays.items()}


def calibration_source(calib: Any, graph: Graph, limit: int | None = None, preprocess: str | None = None):
    """Whatever the user passed as calibration data, as something the calibrate pass reads."""
    if isinstance(calib, (str, os.PathLike)):
        from irc.data.calibration_files import open_calibration

        return open_calibration(str(calib), graph, limit=limit, preprocess=preprocess)
    if isinstance(calib, Mapping):
        return _ArraySource(calib)
    if isinstance(calib, Iterable) or callable(calib):
        return calib
    raise IRError(f"calibration data must be a path, a dict of arrays or an iterable of such dicts (batches), "
                  f"not {type(calib).__name__}")


def refuse_quantized(graph: Graph, model: Any) -> None:
    """irc quantize takes a float model: a quantized one (a QDQ or QOperator file) is an error."""
    from irc.passes.fallback import is_quantized_graph

    if not is_quantized_graph(graph):
        return
    int8 = sum(1 for op in graph.ops if op.name not in ("const", "quantize", "dequantize")
               and any(r.type.is_quantized for r in op.results))
    casts = sum(1 for op in graph.ops if op.name == "quantize")
    what = f"{model}" if isinstance(model, (str, os.PathLike)) else "the model"
    raise IRError(f"{what}: the model is already quantized ({int8} int8 op{'s' * (int8 != 1)}, "
                  f"{casts} quantize cast{'s' * (casts != 1)}); "
                  "irc quantize takes a float model. A quantized model runs as it is (irc run, irc eval) "
                  "and re-exports with irc import and irc emit --target=onnx-qdq")


def quantize(model: Any, calib: Any, options: QuantizeOptions | None = None, *,
             on_stage: Callable[[str], None] | None = None, **settings: Any) -> QuantizeResult:
    """Quantize `model` (path, onnx.ModelProto or Graph) with calibration data `calib`.

    calib: an .npz path / image folder / VOC root, a dict {input name: array with a leading
    sample axis}, or an iterable of such dicts (batches); None in dynamic mode.

    The settings are a QuantizeOptions (irc.quantize_options, which says what each one does), or
    its fields as keywords: `irc.quantize(m, calib, method="percentile", samples=256)`. The
    accuracy budget's are given flat: with `val` (a data path, or an irc.passes.budget.Validation)
    and `max_drop` (0.01: absolute, in metric units; "1%": relative to fp32), ops go back to fp32
    until the metric (`metric`, default top1 / map / agreement with fp32) drops by at most that
    much; `result.budget` tells how it went (specs/accuracy-budget.md).

    on_stage: called with the name of each stage (import, each pass, emit, ...) as it starts.
    Raises OutputRejected when onnxruntime refuses the written model (unless check=False).
    """
    from irc.backends.onnx.qdq import export_qdq
    from irc.passes import PassContext, PassManager

    if options is None:
        options = QuantizeOptions.from_keywords(**settings)
    elif settings:
        raise TypeError(f"quantize() takes its settings as options or as keywords, not both "
                        f"(got options and {', '.join(sorted(settings))})")
    o = options
    timings: list[tuple[str, float]] = []

    def stage(name: str):
        if on_stage:
            on_stage(name)
        return time.perf_counter()

    t = stage("import")
    graph, source_bytes = load_model(model, o.input_shapes)
    refuse_quantized(graph, model)
    reference = float_reference(model, graph) if o.check else None
    timings.append(("import", time.perf_counter() - t))

    if calib is None and o.mode != "dynamic":
        raise IRError("calibration data is needed to quantize activations statically (or use mode='dynamic')")
    ctx = PassContext(calib=None if calib is None else calibration_source(calib, graph, limit=o.samples or None,
                                                                           preprocess=o.preprocess),
                      quiet=o.quiet)
    if o.mode == "dynamic" and o.check:
        ctx.sample_batch = check_batch(ctx.calib, graph)
    if o.budget is not None:
        from irc.budget_setup import make_budget

        ctx.budget = make_budget(graph, o.budget, preprocess=o.preprocess)

    from irc.passes import Instrument, TimePasses

    saved: dict[str, Any] = {}

    class _Stages(Instrument):
        """Announces each pass to on_stage; keeps the graph as quantize receives it when asked."""

        def before_pass(self, p, g):
            if (o.speed_check is not False or o.keep_calibrated) and p.name == "quantize" and "graph" not in saved:
                from irc.passes.clone import clone_graph

                saved["graph"], saved["pass"] = clone_graph(g)[0], p
            stage(p.name)

    timer = TimePasses(silent=True)
    PassManager(o.passes(calibrated=calib is not None), [_Stages(), timer]).run(graph, ctx)
    timings.extend(timer.times)

    speed = None
    if o.speed_check is True and "graph" not in saved:
        raise IRError("speed check: the pipeline has no quantize pass")
    if o.speed_check is not False and "graph" in saved:
        t = stage("speed check")
        from irc.backends.onnx import export_onnx
        from irc.speed_check import speed_check as run_speed_check

        fixed = {v.name for v in saved["graph"].inputs if v.type.rank and isinstance(v.type.shape[0], int)}
        feeds = {k: (v if k in fixed else v[:1]) for k, v in (ctx.sample_batch or {}).items()}
        fp32 = export_onnx(saved["graph"])
        graph, speed = run_speed_check(saved["graph"], graph, saved["pass"], feeds, threads=o.speed_threads,
                                       fp32_model=fp32)
        timings.append(("speed check", time.perf_counter() - t))

    t = stage("emit")
    warnings: list[str] = []
    qdq = export_qdq(graph, warn=warnings.append)
    timings.append(("emit", time.perf_counter() - t))
    report = None
    if o.check:
        t = stage("check")
        from irc.backends.onnx.ort_check import check_emitted

        report = check_emitted(qdq, ctx.sample_batch, reference, "the int8 model")
    else:
        from irc.backends.onnx.ort_check import check_onnx_rules

        check_onnx_rules(qdq, "the int8 model")
        timings.append(("check", time.perf_counter() - t))
    budget = ctx.budget.result if ctx.budget is not None else None
    return QuantizeResult(graph, qdq, ctx.stats, timings, source_bytes, warnings, budget, report, speed,
                          saved.get("graph"), ctx.sample_batch,
                          tuple(getattr(saved.get("pass"), "skip", ())))


def check_batch(source: Any, graph: Graph) -> dict[str, np.ndarray]:
    """Inputs to check a model with when no calibration pass ran: the first samples of the
    calibration data if there is any, else made-up ones (float inputs normal, integer inputs 1,
    unknown dims 1)."""
    if source is not None:
        from irc.passes.calibration_stream import CalibrationStream
        from irc.passes.calibrate import sample_of

        stream = CalibrationStream(source, graph, batch_size=8, limit=8, seed=0)
        for feeds in stream:
            return sample_of(feeds, stream.fixed)
    rng = np.random.default_rng(0)
    feeds = {}
    for v in graph.inputs:
        shape = tuple(d if isinstance(d, int) else 1 for d in v.type.dims)
        dtype = v.type.dtype
        if v.type.is_float:
            feeds[v.io_name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[v.io_name] = np.ones(shape, dtype=dtype)
    return feeds


def float_reference(model: Any, graph: Graph) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
    """Runs the fp32 model in onnxruntime (default session options): the user's ONNX file when
    there is one and onnxruntime runs it, else the ONNX form of the graph as imported (before any
    pass runs)."""
    from irc.backends.onnx.ort_check import default_session

    from irc.backends.onnx import export_onnx, load_onnx
    from irc.passes.clone import clone_graph

    user = model if isinstance(model, onnx.ModelProto) else (
        None if isinstance(model, Graph) or model_format(model) == "ir" else load_onnx(model))
    as_imported = clone_graph(graph)[0]  # the passes change `graph` in place

    def run_on(source: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        session = default_session(source)
        names = [o.name for o in session.get_outputs()]
        wanted = {i.name for i in session.get_inputs()}
        return dict(zip(names, session.run(None, {k: v for k, v in feeds.items() if k in wanted})))

    def run(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if user is not None:
            try:
                return run_on(user, feeds)
            except Exception:
                pass  # e.g. inputs declared with dim 0 for "dynamic", which onnxruntime takes literally
        return run_on(export_onnx(as_imported), feeds)

    return run
