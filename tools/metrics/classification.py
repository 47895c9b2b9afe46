"""Top-k accuracy against labels, and top-1 agreement with a reference model."""

from __future__ import annotations

import numpy as np

from irc.ir.diagnostics import IRError

from .base import Metric, MetricResult, Step, as_logits, select_output


def topk_hits(logits: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per sample: is the label among the k highest scores?

    A tie at the k-th place counts against the label: the label is a hit when fewer than k
    classes score strictly higher and its own score is not beaten by k others or more.
    """
    own = logits[np.arange(len(labels)), labels]
    higher = (logits > own[:, None]).sum(1)
    # classes tied with the label that come before it in index order take places too
    idx = np.arange(logits.shape[1])[None, :]
    tied_before = ((logits == own[:, None]) & (idx < labels[:, None])).sum(1)
    return (higher + tied_before) < k


class TopK(Metric):
    """Fraction of samples whose label is among the top-k scores (ties: lower class index first)."""

    needs_labels = True

    def __init__(self, k: int = 1, output: str | None = None) -> None:
        self.k = k
        self.output = output
        self.name = f"top{k}"
        self.hits = 0
        self.count = 0

    def update(self, step: Step) -> None:
        logits = as_logits(select_output(step.outputs, self.output, self.name), self.name)
        labels = step.batch.labels
        if labels is None:
            raise IRError(f"{self.name} needs labels, and the data has none "
                          "(an .npz needs a 'labels' array; or use --metric agreement)")
        classes = logits.shape[1]
        bad = np.nonzero((labels < 0) | (labels >= classes))[0]
        if len(bad):
            i = int(bad[0])
            raise IRError(f"{step.batch.ids[i]}: label {int(labels[i])} is outside the model's "
                          f"{classes} classes (0..{classes - 1})")
        if self.k > classes:
            raise IRError(f"{self.name}: the model has only {classes} classes")
        self.hits += int(topk_hits(logits, labels, self.k).sum())
        self.count += len(labels)

    def compute(self) -> MetricResult:
        if self.count == 0:
            raise IRError(f"{self.name}: no samples were evaluated")
        return MetricResult(self.name, self.hits / self.count, {"correct": self.hits, "samples": self.count})


class Agreement(Metric):
    """Fraction of samples where the model's top-1 class equals the reference model's top-1.

    Needs no labels. Ties resolve to the lowest class index in both models (numpy argmax).
    """

    name = "agreement"
    needs_reference = True

    def __init__(self, output: str | None = None) -> None:
        self.output = output
        self.same = 0
        self.count = 0

    def update(self, step: Step) -> None:
        if step.reference is None:
            raise IRError("agreement needs a reference model (--reference fp32.onnx)")
        a = as_logits(select_output(step.outputs, self.output, self.name), self.name)
        b = as_logits(select_output(step.reference, self.output, self.name), self.name)
        if a.shape != b.shape:
            raise IRError(f"agreement: model output {list(a.shape)} and reference output {list(b.shape)} differ")
        self.same += int((a.argmax(1) == b.argmax(1)).sum())
        self.count += len(a)

    def compute(self) -> MetricResult:
        if self.count == 0:
            raise IRError("agreement: no samples were evaluated")
        return MetricResult(self.name, self.same / self.count, {"agree": self.same, "samples": self.count})
