"""The streaming metric interface: update once per batch, compute once at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from irc.data.base import Batch
from irc.ir.diagnostics import IRError


@dataclass
class Step:
    """What a metric sees for one batch: the model's outputs (by name, in model order), the
    batch itself (inputs, labels or ground-truth objects, sample ids) and, when a reference
    model is given, its outputs on the same inputs."""

    outputs: Mapping[str, np.ndarray]
    batch: Batch
    reference: Mapping[str, np.ndarray] | None = None


@dataclass
class MetricResult:
    """A finished metric: its name, its headline value and any extra numbers (per class, counts)."""

    name: str
    value: float
    details: dict[str, Any] = field(default_factory=dict)


class Metric:
    """Base of all metrics. Subclasses set the `needs_*` flags and implement update/compute."""

    name = "metric"
    needs_labels = False        # classification labels
    needs_objects = False       # detection ground truth
    needs_reference = False     # a reference (fp32) model's outputs
    higher_is_better = True

    def update(self, step: Step) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self) -> MetricResult:  # pragma: no cover - abstract
        raise NotImplementedError


def select_output(outputs: Mapping[str, np.ndarray], name: str | None, metric: str) -> np.ndarray:
    """The named output, or the first one."""
    if name is None:
        return np.asarray(next(iter(outputs.values())))
    if name not in outputs:
        raise IRError(f"{metric}: the model has no output {name!r} (its outputs: {', '.join(outputs)})")
    return np.asarray(outputs[name])


def as_logits(a: np.ndarray, metric: str) -> np.ndarray:
    """A classifier output as [N, classes]: trailing size-1 axes (e.g. [N, C, 1, 1]) are dropped."""
    while a.ndim > 2 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise IRError(f"{metric}: expected a classifier output [N, classes], got shape {list(a.shape)}")
    return a
