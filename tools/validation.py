"""A validation set and a metric for the accuracy budget (irc.passes.budget.Validation).

    val = DatasetValidation.open("val/", graph, metric="top1", preprocess="cls.toml")
    ctx.budget = AccuracyBudget(val, max_drop=0.01)

Each measurement streams the data set through a model with `irc.evaluation.evaluate` (the loop
`irc eval` uses), with the model given as a function of a batch. Decoded and preprocessed
batches are kept in memory (up to `cache_bytes`), so repeated evaluations of candidate models
do not decode images again. Without labels the default metric is `agreement`: the top-1 class
of the candidate against the fp32 model's, which the budget search supplies as the reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from irc.data import Dataset, InputSpec, iter_batches, load_preprocess, open_dataset, read_config_file
from irc.data.base import Batch
from irc.evaluation import check_metrics, evaluate
from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph
from irc.metrics import Metric, make_metric
from irc.model_runner import ModelRunner

RunFn = Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]


class _FunctionRunner(ModelRunner):
    """A ModelRunner whose model is a function of a batch (a candidate graph being evaluated)."""

    def __init__(self, fn: RunFn, inputs: list[InputSpec], output_names: list[str], label: str) -> None:
        self.fn = fn
        self.inputs = inputs
        self.output_names = output_names
        self.path = Path(label)

    def _run(self, feed):
        out = self.fn(feed)
        return [out[n] for n in self.output_names]


class _CachedDataset(Dataset):
    """A data set whose loaded batches are kept in memory up to a byte limit."""

    def __init__(self, inner: Dataset, cache_bytes: int) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.task = inner.task
        self.path = inner.path
        self.classes = inner.classes
        self.cache_bytes = cache_bytes
        self.used = 0
        self._cache: dict[tuple, Batch] = {}

    def __len__(self) -> int:
        return len(self.inner)

    def describe(self) -> str:
        return self.inner.describe()

    def load(self, indices: Sequence[int], inputs: Sequence[InputSpec]) -> Batch:
        key = (tuple(int(i) for i in indices), tuple(inputs))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        batch = self.inner.load(indices, inputs)
        size = sum(a.nbytes for a in batch.inputs.values())
        if self.used + size <= self.cache_bytes:
            self._cache[key] = batch
            self.used += size
        return batch


def input_specs(graph: Graph) -> list[InputSpec]:
    return [InputSpec(v.io_name, tuple(d if isinstance(d, int) else None for d in v.type.dims), v.type.dtype)
            for v in graph.inputs]


def read_detection(path: str | None):
    """The [detection] table (or top-level keys) of a TOML/JSON file, as a DetectionConfig."""
    if not path:
        return None
    from irc.detection import DetectionConfig

    data = read_config_file(path)
    table = data.get("detection", {k: v for k, v in data.items() if k != "preprocess"})
    if not isinstance(table, dict):
        raise IRError(f"{path}: [detection] must be a table")
    return DetectionConfig.from_mapping(table, where=f"{path} [detection]", base_dir=Path(path).parent)


class DatasetValidation:
    """An irc.data data set plus one metric, measured with irc.evaluation.evaluate."""

    def __init__(self, dataset: Dataset, metric: str, inputs: list[InputSpec], output_names: list[str], *,
                 output: str | None = None, detection=None, batch_size: int = 32, limit: int | None = None,
                 seed: int = 0, cache_bytes: int = 1 << 30) -> None:
        self.dataset = _CachedDataset(dataset, cache_bytes)
        self.metric_spec = metric
        self.output = output
        self.detection = detection
        self.specs = inputs
        self.output_names = output_names
        self.batch_size = batch_size
        self.limit = limit
        self.seed = seed
        probe = self.new_metric()
        # the budget search always offers the fp32 model as the reference
        check_metrics([probe], self.dataset, has_reference=True)
        self.metric_name = probe.name
        self.higher_is_better = bool(getattr(probe, "higher_is_better", True))
        self.needs_reference = probe.needs_reference
        n = len(dataset) if limit is None else min(limit, len(dataset))
        self.description = f"{dataset.describe()}" + (f", {n} used" if n < len(dataset) else "")

    @classmethod
    def open(cls, path: str, graph: Graph, *, metric: str | None = None, preprocess: str | None = None,
             detection: str | None = None, labels_file: str | None = None, limit: int | None = None,
             seed: int = 0, batch_size: int = 32, output: str | None = None) -> "DatasetValidation":
        """Open PATH (an .npz, an image folder or a VOC root) for `graph`; the metric defaults to
        top1 (labels), map (VOC) or agreement with the fp32 model (no labels)."""
        if limit is not None and limit < 1:
            raise IRError(f"--val-limit must be at least 1, got {limit}")
        if not Path(path).exists():
            raise IRError(f"{path}: validation data not found")
        pre = load_preprocess(preprocess) if preprocess else None
        ds = open_dataset(path, preprocess=pre, labels_file=labels_file)
        if len(ds) == 0:
            raise IRError(f"{path}: the validation data holds no samples")
        det = read_detection(detection)
        if metric is None:
            metric = {"classification": "top1", "detection": "map"}.get(ds.task or "", "agreement")
        return cls(ds, metric, input_specs(graph), [v.io_name for v in graph.outputs], output=output, detection=det,
                   batch_size=batch_size, limit=limit, seed=seed)

    def new_metric(self) -> Metric:
        return make_metric(self.metric_spec, output=self.output, detection=self.detection,
                           classes=self.dataset.classes)

    def measure(self, run: RunFn, reference: RunFn | None) -> float:
        model = _FunctionRunner(run, self.specs, self.output_names, "candidate")
        ref = None
        if self.needs_reference:
            if reference is None:
                raise IRError(f"metric {self.metric_name} needs the fp32 model's outputs")
            ref = _FunctionRunner(reference, self.specs, self.output_names, "fp32")
        res = evaluate(model, self.dataset, [self.new_metric()], reference=ref, batch_size=self.batch_size,
                       limit=self.limit, seed=self.seed, progress=False)
        return float(res.results[0].value)

    def inputs(self, limit: int, seed: int) -> list[dict[str, np.ndarray]]:
        n = limit if self.limit is None else min(limit, self.limit)
        return [b.inputs for b in iter_batches(self.dataset, self.specs, batch_size=self.batch_size,
                                               limit=n, seed=seed)]
