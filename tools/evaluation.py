"""The evaluation loop shared by `irc eval` and the Python API: stream a data set through a
model (and optionally a reference model) and feed every batch to streaming metrics.

    from irc.evaluation import evaluate
    res = evaluate("model.onnx", "val/", ["top1", "top5"])
    res.values["top1"]
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from irc.data import Dataset, iter_batches, open_dataset, select_indices
from irc.ir.diagnostics import IRError
from irc.metrics import Metric, MetricResult, Step, make_metric
from irc.model_runner import ModelRunner, open_model


@dataclass
class EvalResult:
    """Metric values by name, their details, and how much was evaluated."""

    results: list[MetricResult]
    samples: int
    seconds: float
    model: str
    data: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, float]:
        return {r.name: r.value for r in self.results}

    def to_json(self) -> dict[str, Any]:
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v

        return {"model": self.model, "data": self.data, "samples": self.samples,
                "seconds": round(self.seconds, 3),
                "metrics": {r.name: clean(r.value) for r in self.results},
                "details": {r.name: clean(r.details) for r in self.results}, **self.extra}


def _check_compatible(model: ModelRunner, ref: ModelRunner) -> None:
    a = [(i.name, i.shape[1:]) for i in model.inputs]
    b = [(i.name, i.shape[1:]) for i in ref.inputs]
    if [n for n, _ in a] != [n for n, _ in b]:
        raise IRError(f"the reference model's inputs {[n for n, _ in b]} differ from the model's {[n for n, _ in a]}")


def check_metrics(metrics: Sequence[Metric], ds: Dataset, has_reference: bool) -> None:
    """Each metric can be computed on `ds` (labels, ground truth, a reference model)."""
    if not metrics:
        raise IRError("no metric given")
    for m in metrics:
        if m.needs_reference and not has_reference:
            raise IRError(f"metric {m.name} compares against a reference model: give --reference fp32.onnx")
        if m.needs_objects and ds.task != "detection":
            raise IRError(f"metric {m.name} needs detection ground truth; {ds.describe()} has none")
        if m.needs_labels and ds.task != "classification":
            raise IRError(f"metric {m.name} needs class labels; {ds.describe()} has none "
                          "(use --metric agreement with --reference for unlabeled data)")


def evaluate(model: str | Path | ModelRunner, data: str | Path | Dataset, metrics: Sequence[str | Metric], *,
             reference: str | Path | ModelRunner | None = None, batch_size: int = 32, limit: int | None = None,
             seed: int = 0, progress: bool | None = None, detection=None, **open_kwargs) -> EvalResult:
    """Run `model` over `data` (path or Dataset) and compute `metrics` (names or Metric objects).

    open_kwargs go to irc.data.open_dataset (preprocess, labels_file, format, split) when
    `data` is a path. `detection` (an irc.detection.DetectionConfig) is needed by metrics named
    "map"/"map_all". `progress` None shows a bar only when stderr is a terminal.
    """
    runner = model if isinstance(model, ModelRunner) else open_model(model)
    ref = None
    if reference is not None:
        ref = reference if isinstance(reference, ModelRunner) else open_model(reference)
        _check_compatible(runner, ref)
    ds = data if isinstance(data, Dataset) else open_dataset(data, **open_kwargs)
    ms = [m if isinstance(m, Metric) else make_metric(m, classes=ds.classes, detection=detection) for m in metrics]
    check_metrics(ms, ds, ref is not None)
    total = len(select_indices(len(ds), limit, seed))
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=total, desc=f"eval {Path(str(runner.path)).name}", unit="sample", file=sys.stderr)
    t0 = time.perf_counter()
    done = 0
    try:
        for batch in iter_batches(ds, runner.inputs, batch_size=batch_size, limit=limit, seed=seed):
            outputs = runner.run(batch.inputs)
            ref_out = ref.run(batch.inputs) if ref is not None else None
            step = Step(outputs, batch, ref_out)
            for m in ms:
                m.update(step)
            done += len(batch)
            if bar is not None:
                bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
    results = [m.compute() for m in ms]
    return EvalResult(results, done, time.perf_counter() - t0, str(runner.path), str(ds.path),
                      {"data_format": ds.kind})
