"""Calibration data named on the command line (`--calib PATH`), for the calibrate pass.

    source = open_calibration("calib.npz", graph, limit=300)
    ctx = PassContext(calib=source)

PATH is an .npz file (one array per graph input, named like it, with a leading sample axis), an
ImageNet-style folder of class sub-folders, or a Pascal VOC 2007 root; irc.data reads them. An
.npz is checked whole before any work starts: every graph input has an array of its name and no
array is left over (`labels` excepted), every sample has the input's shape, the file is not
empty, each array's kind of element is the input's (float for a float input: integer and bool
arrays are refused, not cast), and float arrays hold no NaN or infinity. Image data is checked
as it is read.

The source hands batches to the pass with `batches(batch_size=, limit=, seed=)`: a seeded random
subset when a limit is smaller than the data (irc.data.select_indices), else every sample in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from irc.data import InputSpec, iter_batches, load_preprocess, open_dataset
from irc.ir.diagnostics import IRError
from irc.ir.graph import Graph
from irc.ir.types import format_dim
from irc.passes.calibration_stream import kind_mismatch

SCAN_BYTES = 64 << 20
"""The NaN scan of an .npz reads this much at a time."""


def input_specs(graph: Graph) -> list[InputSpec]:
    return [InputSpec(v.io_name, tuple(d if isinstance(d, int) else None for d in v.type.dims), v.type.dtype)
            for v in graph.inputs]


class DatasetCalibration:
    """Calibration batches from an irc.data Dataset, for PassContext.calib."""

    def __init__(self, dataset, specs: list[InputSpec], limit: int | None = None) -> None:
        self.dataset = dataset
        self.specs = specs
        self.limit = limit
        self.description = str(dataset.path)

    def __len__(self) -> int:
        n = len(self.dataset)
        return min(n, self.limit) if self.limit else n

    def batches(self, batch_size: int = 32, limit: int | None = None, seed: int = 0) -> Iterator[dict[str, np.ndarray]]:
        limits = [n for n in (self.limit, limit) if n]
        for batch in iter_batches(self.dataset, self.specs, batch_size=batch_size,
                                  limit=min(limits) if limits else None, seed=seed):
            yield batch.inputs


def _check_npz(dataset, graph: Graph, path: str) -> None:
    arrays = dataset.arrays
    names = [v.name for v in graph.inputs]
    missing = [n for n in names if n not in arrays]
    extra = sorted(k for k in arrays if k not in names)
    if missing or extra:
        parts = ([f"no array for model input(s) {', '.join(map(repr, missing))}"] if missing else []) + \
                ([f"array(s) {', '.join(map(repr, extra))} match no model input"] if extra else [])
        raise IRError(f"{path}: {'; '.join(parts)} (model inputs: {', '.join(map(repr, names))}; "
                      f"arrays in the file: {', '.join(map(repr, sorted(arrays)))})")
    for v in graph.inputs:
        a = arrays[v.name]
        want = "[" + ", ".join(format_dim(d) for d in v.type.dims[1:]) + "]"
        if a.ndim != v.type.rank or any(isinstance(d, int) and d != s for d, s in zip(v.type.dims[1:], a.shape[1:])):
            raise IRError(f"{path}: array {v.name!r} has shape {list(a.shape)}, but model input {v.name!r} "
                          f"takes samples of shape {want} ({v.type})")
        if a.dtype.kind not in "biuf":
            raise IRError(f"{path}: array {v.name!r} has dtype {a.dtype}, not numbers")
        mismatch = kind_mismatch(a.dtype, v.type.dtype)
        if mismatch:
            raise IRError(f"{path}: array {v.name!r} has dtype {a.dtype}, but model input {v.name!r} is "
                          f"{v.type.storage}: {mismatch}")
        if a.dtype.kind == "f" and a.size:
            row_bytes = max(1, a[0].nbytes)
            step = max(1, SCAN_BYTES // row_bytes)
            for start in range(0, len(a), step):
                rows = np.asarray(a[start:start + step])
                finite = np.isfinite(rows.reshape(len(rows), -1)).all(axis=1)
                if not finite.all():
                    k = start + int(np.argmin(finite))
                    raise IRError(f"{path}: array {v.name!r} holds NaN or infinity (sample {k})")


def open_calibration(path: str, graph: Graph, *, limit: int | None = None,
                     preprocess: str | None = None) -> DatasetCalibration:
    """Open PATH as calibration data for `graph` and check what can be checked up front."""
    if limit is not None and limit < 1:
        raise IRError(f"--samples must be at least 1, got {limit}")
    p = Path(path)
    if not p.exists():
        raise IRError(f"{path}: calibration data not found")
    pre = load_preprocess(preprocess) if preprocess else None
    dataset = open_dataset(p, preprocess=pre, labels=False)  # calibration uses no labels: none are checked
    if dataset.kind == "npz":
        _check_npz(dataset, graph, path)
    return DatasetCalibration(dataset, input_specs(graph), limit)
